import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { startFactorialEmulator } from '../../src/emulators/factorial/factorial-emulator.js';
import { summariseIdentity } from '../../src/identity.js';
import { CREDENTIALS, call, login, startFactorial } from './factorial-helpers.js';

const base64url = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('Factorial API keys are JWT-shaped', () => {
  test('the emulator’s key is three base64url segments with a JOSE header, and it works', async () => {
    const { emulator } = await startFactorial();
    const { apiKey } = emulator.credentials;
    const segments = apiKey.split('.');
    assert.equal(segments.length, 3);
    for (const segment of segments) assert.match(segment, /^[A-Za-z0-9_-]+$/);
    const header = JSON.parse(Buffer.from(segments[0] ?? '', 'base64url').toString('utf8'));
    assert.equal(header.typ, 'JWT');
    assert.equal((await call(emulator, CREDENTIALS, { apiKey })).status, 200);
  });

  test('a key of another shape, or a JWT the emulator did not issue, is refused with 401', async () => {
    const { emulator } = await startFactorial();
    const { apiKey } = emulator.credentials;
    const [head, payload] = apiKey.split('.');
    const forged = `${head}.${payload}.${base64url({ not: 'the signature' })}`;
    const otherPayload = `${head}.${base64url({ sub: 'api_key:2' })}.${apiKey.split('.')[2]}`;
    for (const key of [
      'factorial-emulator-api-key-9d41c7e2a05b6f38',
      `${head}.${payload}`,
      forged,
      otherPayload,
    ]) {
      const reply = await call(emulator, CREDENTIALS, { apiKey: key });
      assert.equal(reply.status, 401, key);
      assert.deepEqual(reply.body, { error: 'invalid_token', error_description: 'The API key is invalid' });
    }
  });

  test('an emulator configured with a key that is not JWT-shaped does not start', async () => {
    await assert.rejects(
      startFactorialEmulator({ credentials: { apiKey: 'plain-key' } }),
      /apiKey must be JWT-shaped/,
    );
  });
});

describe('the credentials endpoint answers with the owner’s fields', () => {
  test('a user token: email, login_email, full_name, role (and always id, company_id, employee_id)', async () => {
    const { emulator } = await startFactorial();
    const user = await login(emulator);
    const reply = await call<{ data: Array<Record<string, unknown>> }>(emulator, CREDENTIALS, {
      bearer: user.access_token,
    });
    const entry = reply.body.data[0] ?? {};
    for (const field of ['id', 'company_id', 'employee_id', 'email', 'login_email', 'full_name', 'role']) {
      assert.ok(entry[field] !== undefined && entry[field] !== null, field);
    }
    for (const field of ['name', 'legal_name', 'tin']) assert.equal(field in entry, false, field);
    assert.deepEqual(summariseIdentity(reply.body), {
      email: 'demo@factorial.example',
      login_email: 'demo@factorial.example',
      full_name: 'Ada Lovelace',
      id: '1',
      employee_id: '1',
      company_id: '1',
      role: 'admin',
    });
  });

  test('a company token and an API key: name, legal_name, tin, and no employee', async () => {
    const { emulator } = await startFactorial();
    const company = await login(emulator, { resource_owner_type: 'company' });
    for (const auth of [{ bearer: company.access_token }, { apiKey: emulator.credentials.apiKey }]) {
      const reply = await call<{ data: Array<Record<string, unknown>> }>(emulator, CREDENTIALS, auth);
      const entry = reply.body.data[0] ?? {};
      assert.equal(entry.employee_id, null);
      for (const field of ['email', 'login_email', 'full_name', 'role'])
        assert.equal(field in entry, false, field);
      assert.deepEqual(summariseIdentity(reply.body), {
        name: 'Integrations - Factorial Emulator',
        legal_name: 'Factorial Emulator S.L.',
        tin: 'B00000000',
        id: '1',
        company_id: '1',
      });
    }
  });
});
