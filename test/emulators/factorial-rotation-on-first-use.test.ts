import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { call, EMPLOYEES, login, refresh, startFactorial } from './factorial-helpers.js';

describe('Factorial rotation "on first use" (Doorkeeper refresh_token_revoked_on_use)', () => {
  test('the old pair lives until the new access token is first used, then dies', async () => {
    const { emulator } = await startFactorial({ rotation: 'on-first-use' });
    const old = await login(emulator);
    const first = await refresh(emulator, old.refresh_token);
    assert.equal(first.status, 200);
    assert.notEqual(first.body.refresh_token, old.refresh_token);
    // Not used yet: the old access token still works and the old refresh token can be exchanged again.
    assert.equal((await call(emulator, EMPLOYEES, { bearer: old.access_token })).status, 200);
    const second = await refresh(emulator, old.refresh_token);
    assert.equal(second.status, 200);

    // First use of a new access token revokes the old row: access and refresh token.
    assert.equal((await call(emulator, EMPLOYEES, { bearer: String(first.body.access_token) })).status, 200);
    assert.equal((await call(emulator, EMPLOYEES, { bearer: old.access_token })).status, 401);
    const reused = await refresh(emulator, old.refresh_token);
    assert.equal(reused.status, 400);
    assert.equal(reused.body.error, 'invalid_grant');
    // The other pair issued from the old token is its own row and keeps working.
    assert.equal((await call(emulator, EMPLOYEES, { bearer: String(second.body.access_token) })).status, 200);
    assert.equal((await refresh(emulator, String(second.body.refresh_token))).status, 200);
  });

  test('strict rotation, for contrast, kills the old refresh token at once', async () => {
    const { emulator } = await startFactorial({ rotation: 'strict' });
    const old = await login(emulator);
    assert.equal((await refresh(emulator, old.refresh_token)).status, 200);
    assert.equal((await refresh(emulator, old.refresh_token)).body.error, 'invalid_grant');
  });
});
