import assert from 'node:assert/strict';
import { createVerify } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  FACTUS_EMULATOR_CREDENTIALS,
  type FactusRunningEmulator,
  startFactusEmulator,
} from '../../src/emulators/factus/factus-emulator.js';
import { decodeJwtPart, login, passwordFields, postToken, readJson, refreshFields } from './helpers.js';

describe('Factus emulator token endpoint', () => {
  let emulator: FactusRunningEmulator;
  before(async () => {
    emulator = await startFactusEmulator();
  });
  after(() => emulator.stop());

  test('listens on loopback with the fixed default credentials', () => {
    assert.match(emulator.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(emulator.tokenUrl, `${emulator.url}/oauth/token`);
    assert.deepEqual(emulator.credentials, { ...FACTUS_EMULATOR_CREDENTIALS });
  });

  test('password grant returns a Bearer JWT and a def50200 refresh token, not cached', async () => {
    const reply = await postToken(emulator, passwordFields(emulator.credentials));
    assert.equal(reply.status, 200);
    assert.equal(reply.headers.get('cache-control'), 'no-store');
    assert.deepEqual(Object.keys(reply.body), ['token_type', 'expires_in', 'access_token', 'refresh_token']);
    assert.equal(reply.body.token_type, 'Bearer');
    assert.equal(reply.body.expires_in, 3600);
    assert.match(reply.body.refresh_token as string, /^def50200[0-9a-f]+$/);
    assert.equal((reply.body.access_token as string).split('.').length, 3);
  });

  test('the access token is an RS256 JWT that verifies with the public key and carries the claims', async () => {
    const before = Math.floor(Date.now() / 1000);
    const { access_token: token } = await login(emulator);
    const [header, claims, signature] = token.split('.') as [string, string, string];
    const verified = createVerify('RSA-SHA256')
      .update(`${header}.${claims}`)
      .verify(emulator.publicKeyPem, Buffer.from(signature, 'base64url'));
    assert.equal(verified, true);
    assert.deepEqual(decodeJwtPart(token, 0), { typ: 'JWT', alg: 'RS256' });
    const payload = decodeJwtPart(token, 1);
    assert.equal(payload.aud, emulator.credentials.clientId);
    assert.equal(payload.sub, '1');
    assert.deepEqual(payload.scopes, []);
    assert.match(payload.jti as string, /^[0-9a-f]{80}$/);
    const iat = payload.iat as number;
    assert.ok(iat >= before && iat <= before + 5);
    assert.equal(payload.nbf, iat);
    assert.equal(payload.exp, iat + 3600);
  });

  test('accepts multipart/form-data', async () => {
    const form = new FormData();
    for (const [name, value] of Object.entries(passwordFields(emulator.credentials)))
      form.append(name, value);
    const reply = await readJson(await fetch(emulator.tokenUrl, { method: 'POST', body: form }));
    assert.equal(reply.status, 200);
    assert.equal(typeof reply.body.access_token, 'string');
  });

  test('accepts HTTP Basic client authentication', async () => {
    const { client_id, client_secret, ...rest } = passwordFields(emulator.credentials);
    const basic = Buffer.from(`${client_id}:${client_secret}`).toString('base64');
    const reply = await postToken(emulator, rest, { authorization: `Basic ${basic}` });
    assert.equal(reply.status, 200);
  });

  test('a wrong client secret is 401 invalid_client in league style', async () => {
    const reply = await postToken(emulator, {
      ...passwordFields(emulator.credentials),
      client_secret: 'nope',
    });
    assert.equal(reply.status, 401);
    assert.deepEqual(reply.body, {
      error: 'invalid_client',
      error_description: 'Client authentication failed',
      message: 'Client authentication failed',
    });
  });

  test('an unknown client id is 401 invalid_client; a bad Basic header asks for Basic', async () => {
    const unknown = await postToken(emulator, {
      ...passwordFields(emulator.credentials),
      client_id: 'someone-else',
    });
    assert.equal(unknown.status, 401);
    assert.equal(unknown.body.error, 'invalid_client');

    const { client_id: _id, client_secret: _secret, ...rest } = passwordFields(emulator.credentials);
    const basic = Buffer.from(`${emulator.credentials.clientId}:wrong`).toString('base64');
    const viaBasic = await postToken(emulator, rest, { authorization: `Basic ${basic}` });
    assert.equal(viaBasic.status, 401);
    assert.equal(viaBasic.headers.get('www-authenticate'), 'Basic realm="OAuth"');
  });

  test('a wrong password is 400 invalid_grant "The user credentials were incorrect."', async () => {
    const reply = await postToken(emulator, { ...passwordFields(emulator.credentials), password: 'wrong' });
    assert.equal(reply.status, 400);
    assert.equal(reply.body.error, 'invalid_grant');
    assert.equal(reply.body.error_description, 'The user credentials were incorrect.');
    assert.equal(reply.body.message, 'The user credentials were incorrect.');
  });

  test('an unknown user is 400 invalid_grant too', async () => {
    const reply = await postToken(emulator, {
      ...passwordFields(emulator.credentials),
      username: 'who@example.com',
    });
    assert.equal(reply.status, 400);
    assert.equal(reply.body.error, 'invalid_grant');
  });

  for (const parameter of ['username', 'password', 'client_id']) {
    test(`a missing ${parameter} is 400 invalid_request naming the parameter`, async () => {
      const fields = passwordFields(emulator.credentials);
      delete fields[parameter];
      const reply = await postToken(emulator, fields);
      assert.equal(reply.status, 400);
      assert.equal(reply.body.error, 'invalid_request');
      assert.equal(reply.body.hint, `Check the \`${parameter}\` parameter`);
      assert.match(reply.body.error_description as string, /missing a required parameter/);
      assert.equal(reply.body.message, reply.body.error_description);
    });
  }

  test('a refresh grant without refresh_token is 400 invalid_request', async () => {
    const { refresh_token: _missing, ...fields } = refreshFields(emulator.credentials, 'x');
    const reply = await postToken(emulator, fields);
    assert.equal(reply.status, 400);
    assert.equal(reply.body.error, 'invalid_request');
    assert.equal(reply.body.hint, 'Check the `refresh_token` parameter');
  });

  test('an unknown refresh token is 400 invalid_grant "The refresh token is invalid."', async () => {
    const reply = await postToken(emulator, refreshFields(emulator.credentials, 'def50200deadbeef'));
    assert.equal(reply.status, 400);
    assert.equal(reply.body.error, 'invalid_grant');
    assert.equal(reply.body.message, 'The refresh token is invalid.');
    assert.equal(reply.body.hint, 'Cannot decrypt the refresh token');
  });

  test('a refresh asking for a scope the token was not granted is 400 invalid_scope, and spends nothing', async () => {
    const tokens = await login(emulator);
    const reply = await postToken(emulator, {
      ...refreshFields(emulator.credentials, tokens.refresh_token ?? ''),
      scope: 'admin',
    });
    assert.equal(reply.status, 400);
    assert.equal(reply.body.error, 'invalid_scope');
    assert.equal(reply.body.hint, 'Check the `admin` scope');
    const spent = await postToken(emulator, refreshFields(emulator.credentials, tokens.refresh_token ?? ''));
    assert.equal(spent.status, 200, 'the refused refresh left the refresh token usable');
  });

  test('an unknown or missing grant_type is 400 unsupported_grant_type', async () => {
    for (const fields of [
      { ...passwordFields(emulator.credentials), grant_type: 'client_credentials' },
      {},
    ]) {
      const reply = await postToken(emulator, fields);
      assert.equal(reply.status, 400);
      assert.equal(reply.body.error, 'unsupported_grant_type');
      assert.equal(reply.body.hint, 'Check the `grant_type` parameter');
    }
  });

  test('GET on the token endpoint is 405 with Allow: POST', async () => {
    const reply = await readJson(await fetch(emulator.tokenUrl));
    assert.equal(reply.status, 405);
    assert.equal(reply.headers.get('allow'), 'POST');
    assert.match(reply.body.message as string, /GET method is not supported/);
  });

  test('a body over 1 MiB is 413', async () => {
    const big = `grant_type=password&padding=${'a'.repeat(1024 * 1024)}`;
    const reply = await readJson(
      await fetch(emulator.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: big,
      }),
    );
    assert.equal(reply.status, 413);
    assert.match(reply.body.message as string, /larger than 1048576 bytes/);
    // The server keeps working afterwards.
    assert.equal((await postToken(emulator, passwordFields(emulator.credentials))).status, 200);
  });

  test('a body of exactly 1 MiB is still read', async () => {
    const head = new URLSearchParams(passwordFields(emulator.credentials)).toString();
    const body = `${head}&padding=${'a'.repeat(1024 * 1024 - head.length - '&padding='.length)}`;
    assert.equal(Buffer.byteLength(body), 1024 * 1024);
    const response = await fetch(emulator.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
    });
    assert.equal(response.status, 200);
    await response.arrayBuffer();
  });

  test('unknown routes are 404 JSON', async () => {
    const reply = await readJson(await fetch(`${emulator.url}/nope/at/all`));
    assert.equal(reply.status, 404);
    assert.equal(reply.headers.get('content-type'), 'application/json');
    assert.equal(typeof reply.body.message, 'string');
  });
});

describe('Factus emulator options', () => {
  test('custom credentials and lifetimes are honoured', async () => {
    const emulator = await startFactusEmulator({
      accessTtlSeconds: 600,
      credentials: { username: 'ops@example.com', password: 'hunter22' },
    });
    try {
      assert.equal(emulator.credentials.username, 'ops@example.com');
      assert.equal(emulator.credentials.clientId, FACTUS_EMULATOR_CREDENTIALS.clientId);
      const reply = await postToken(emulator, passwordFields(emulator.credentials));
      assert.equal(reply.status, 200);
      assert.equal(reply.body.expires_in, 600);
    } finally {
      await emulator.stop();
    }
  });

  test('bad options are refused with a ConfigError', async () => {
    await assert.rejects(startFactusEmulator({ rotation: 'sometimes' as never }), {
      code: 'CONFIG',
      message: /rotation must be one of strict, grace, off/,
    });
    await assert.rejects(startFactusEmulator({ port: 70000 }), { code: 'CONFIG' });
    await assert.rejects(startFactusEmulator({ rateLimitPerMinute: 0 }), { code: 'CONFIG' });
  });

  test('stop() is idempotent and frees the port', async () => {
    const emulator = await startFactusEmulator();
    await emulator.stop();
    await emulator.stop();
    await assert.rejects(fetch(emulator.tokenUrl));
  });
});
