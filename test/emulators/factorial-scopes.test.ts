import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  authorize,
  CREDENTIALS,
  call,
  DOCUMENTS,
  EMPLOYEES,
  login,
  newEmployee,
  postToken,
  redirectQuery,
  refresh,
  startFactorial,
} from './factorial-helpers.js';

describe('Factorial per-resource scopes', () => {
  test('a resource scope allows reading and writing its resources, and nothing else', async () => {
    const { emulator } = await startFactorial();
    const tokens = await login(emulator, { scope: 'employees' });
    assert.equal(tokens.scope, 'employees');
    const bearer = tokens.access_token;
    assert.equal((await call(emulator, EMPLOYEES, { bearer })).status, 200);
    assert.equal(
      (await call(emulator, EMPLOYEES, { bearer }, { method: 'POST', json: newEmployee(1) })).status,
      201,
    );
    assert.equal(
      (await call(emulator, '/api/v1/employees', { bearer })).status,
      200,
      'legacy employees routes too',
    );

    const refused = await call(emulator, DOCUMENTS, { bearer });
    assert.equal(refused.status, 403);
    assert.deepEqual(refused.body, {
      error: 'insufficient_scope',
      error_description: 'Access to this resource requires scope "documents".',
    });
    assert.match(refused.headers.get('www-authenticate') ?? '', /error="insufficient_scope"/);
    // Who-am-I answers whatever the scopes.
    assert.equal((await call(emulator, CREDENTIALS, { bearer })).status, 200);
  });

  test('scopes are space-separated in the authorize URL and each needs the app to have it', async () => {
    const { emulator } = await startFactorial({ appScopes: ['employees', 'documents'] });
    const both = await login(emulator, { scope: 'employees documents' });
    assert.equal(both.scope, 'documents employees');
    assert.equal((await call(emulator, DOCUMENTS, { bearer: both.access_token })).status, 200);

    const notRegistered = await redirectQuery(await authorize(emulator, { scope: 'employees payroll' }));
    assert.equal(notRegistered.get('error'), 'invalid_scope');
    const legacy = await redirectQuery(await authorize(emulator, { scope: 'read' }));
    assert.equal(legacy.get('error'), 'invalid_scope', 'an app without read/write cannot ask for them');
    // No scope asked for: the app's own scopes (it has no legacy defaults).
    assert.equal((await login(emulator)).scope, 'documents employees');
  });

  test('older apps keep read and write: read is every GET, write everything else', async () => {
    const { emulator } = await startFactorial({ appScopes: ['read', 'write'] });
    const read = await login(emulator, { scope: 'read' });
    assert.equal((await call(emulator, DOCUMENTS, { bearer: read.access_token })).status, 200);
    assert.equal((await call(emulator, EMPLOYEES, { bearer: read.access_token })).status, 200);
    const post = await call(
      emulator,
      EMPLOYEES,
      { bearer: read.access_token },
      { method: 'POST', json: newEmployee(2) },
    );
    assert.equal(post.status, 403);
    assert.match(String(post.body.error_description), /requires scope "write"/);
    assert.equal((await login(emulator)).scope, 'read write', 'no scope asked for: the defaults');
  });

  test('the API key reaches every resource', async () => {
    const { emulator } = await startFactorial({ appScopes: ['employees'] });
    assert.equal((await call(emulator, DOCUMENTS, { apiKey: emulator.credentials.apiKey })).status, 200);
  });
});

test('HEAD is served like GET (Rails): same status and headers, no body, read by the scope check', async () => {
  const { emulator } = await startFactorial({ appScopes: ['employees', 'documents'] });
  const tokens = await login(emulator, { scope: 'employees' });
  const head = (path: string) =>
    fetch(`${emulator.url}${path}`, {
      method: 'HEAD',
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
  const allowed = await head(EMPLOYEES);
  assert.equal(allowed.status, 200);
  assert.equal(await allowed.text(), '');
  const get = await fetch(`${emulator.url}${EMPLOYEES}`, {
    headers: { authorization: `Bearer ${tokens.access_token}` },
  });
  assert.equal(allowed.headers.get('content-length'), String((await get.arrayBuffer()).byteLength));
  assert.equal((await head(DOCUMENTS)).status, 403);
  assert.equal((await fetch(`${emulator.url}/oauth/token`, { method: 'HEAD' })).status, 405);
});

describe('scopes at a refresh (RFC 6749 §6)', () => {
  test('a scope the token was not granted is invalid_scope and spends nothing; fewer scopes narrow the new token', async () => {
    const { emulator } = await startFactorial({ appScopes: ['employees', 'documents'] });
    const tokens = await login(emulator, { scope: 'employees' });
    const wider = await postToken(emulator, {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token,
      scope: 'employees documents',
    });
    assert.equal(wider.status, 400);
    assert.equal(wider.body.error, 'invalid_scope');
    assert.equal(wider.body.error_description, 'The requested scope is invalid, unknown, or malformed.');
    assert.equal((await call(emulator, EMPLOYEES, { bearer: tokens.access_token })).status, 200);

    const both = await login(emulator, { scope: 'employees documents' });
    const narrowed = await postToken(emulator, {
      grant_type: 'refresh_token',
      refresh_token: both.refresh_token,
      scope: 'documents',
    });
    assert.equal(narrowed.status, 200, JSON.stringify(narrowed.body));
    assert.equal(narrowed.body.scope, 'documents');
    const bearer = narrowed.body.access_token as string;
    assert.equal((await call(emulator, DOCUMENTS, { bearer })).status, 200);
    assert.equal((await call(emulator, EMPLOYEES, { bearer })).status, 403);

    const same = await refresh(emulator, tokens.refresh_token);
    assert.equal(same.status, 200, 'the refused refresh left the token usable');
    assert.equal(same.body.scope, 'employees');
  });
});

describe('changing an app’s registered scopes', () => {
  test('invalidates the tokens already issued to it, access and refresh alike', async () => {
    const { emulator } = await startFactorial({ appScopes: ['employees'] });
    const before = await login(emulator, { scope: 'employees' });
    assert.equal((await call(emulator, EMPLOYEES, { bearer: before.access_token })).status, 200);

    assert.equal(emulator.setAppScopes(['employees', 'documents']), 2);
    const rejected = await call(emulator, EMPLOYEES, { bearer: before.access_token });
    assert.equal(rejected.status, 401);
    assert.equal(rejected.body.error_description, 'The access token was revoked');
    assert.equal((await refresh(emulator, before.refresh_token)).body.error, 'invalid_grant');

    const after = await login(emulator, { scope: 'employees documents' });
    assert.equal((await call(emulator, DOCUMENTS, { bearer: after.access_token })).status, 200);
    assert.deepEqual(emulator.appScopes(), ['employees', 'documents']);
  });

  test('POST /__emulator/app-scopes does the same; the same scopes again revoke nothing', async () => {
    const { emulator } = await startFactorial({ appScopes: ['employees'] });
    const tokens = await login(emulator, { scope: 'employees' });
    const change = (scopes: unknown) =>
      fetch(`${emulator.url}/__emulator/app-scopes`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ scopes }),
      }).then((response) => response.json() as Promise<Record<string, unknown>>);

    assert.deepEqual(await change('employees'), {
      client_id: emulator.credentials.clientId,
      scopes: ['employees'],
      revoked_tokens: 0,
    });
    assert.equal((await call(emulator, EMPLOYEES, { bearer: tokens.access_token })).status, 200);
    assert.equal((await change('employees time_off')).revoked_tokens, 2);
    assert.equal((await call(emulator, EMPLOYEES, { bearer: tokens.access_token })).status, 401);
    const unknownScope = await change('employees astrology');
    assert.equal(unknownScope.error, 'invalid_app_scopes');
    assert.match(String(unknownScope.message), /unknown scopes astrology/);
    const raw = (body: string) =>
      fetch(`${emulator.url}/__emulator/app-scopes`, { method: 'POST', body }).then(async (response) => ({
        status: response.status,
        body: (await response.json()) as Record<string, unknown>,
      }));
    for (const [body, message] of [
      ['{"scopes":"employees","extra":1}', /Unknown field "extra"/],
      ['{"scopes":"employees","client_id":7}', /with "client_id" for another app/],
      ['["employees"]', /Send \{"scopes": "employees documents"\}/],
      ['not json', /Send \{"scopes"/],
    ] as const) {
      const reply = await raw(body);
      assert.equal(reply.status, 400, body);
      assert.equal(reply.body.error, 'invalid_app_scopes', body);
      assert.match(String(reply.body.message), message, body);
    }
    assert.deepEqual(emulator.appScopes(), ['employees', 'time_off'], 'a refused change changes nothing');
  });
});
