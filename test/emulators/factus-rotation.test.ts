import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FakeClock } from '../../src/clock.js';
import {
  type FactusEmulatorOptions,
  startFactusEmulator,
} from '../../src/emulators/factus/factus-emulator.js';
import { callApi, decodeJwtPart, login, postToken, refreshFields } from './helpers.js';

async function withEmulator(
  options: FactusEmulatorOptions,
  body: (emulator: Awaited<ReturnType<typeof startFactusEmulator>>) => Promise<void>,
): Promise<void> {
  const emulator = await startFactusEmulator(options);
  try {
    await body(emulator);
  } finally {
    await emulator.stop();
  }
}

const RANGES = '/v1/numbering-ranges';

describe('Factus emulator refresh rotation', () => {
  test('strict: a refresh returns a new pair and revokes the old refresh AND access tokens', async () => {
    await withEmulator({ rotation: 'strict' }, async (emulator) => {
      const first = await login(emulator);
      assert.equal((await callApi(emulator, first.access_token, RANGES)).status, 200);

      const refreshed = await postToken(emulator, refreshFields(emulator.credentials, first.refresh_token!));
      assert.equal(refreshed.status, 200);
      assert.equal(refreshed.headers.get('cache-control'), 'no-store');
      const second = refreshed.body as { access_token: string; refresh_token: string };
      assert.match(second.refresh_token, /^def50200/);
      assert.notEqual(second.refresh_token, first.refresh_token);
      assert.notEqual(second.access_token, first.access_token);

      const oldAccess = await callApi(emulator, first.access_token, RANGES);
      assert.equal(oldAccess.status, 401);
      assert.deepEqual(oldAccess.body, { message: 'Unauthenticated.' });
      assert.equal((await callApi(emulator, second.access_token, RANGES)).status, 200);

      const reuse = await postToken(emulator, refreshFields(emulator.credentials, first.refresh_token!));
      assert.equal(reuse.status, 400);
      assert.equal(reuse.body.error, 'invalid_grant');
      assert.equal(reuse.body.message, 'The refresh token is invalid.');
      assert.equal(reuse.body.hint, 'Token has been revoked');

      // The rotated token keeps working.
      const third = await postToken(emulator, refreshFields(emulator.credentials, second.refresh_token));
      assert.equal(third.status, 200);
    });
  });

  test('grace: the old refresh token works for graceSeconds (a new pair each time), then fails', async () => {
    const clock = new FakeClock();
    await withEmulator({ rotation: 'grace', graceSeconds: 30, now: () => clock.now() }, async (emulator) => {
      const first = await login(emulator);
      const a = await postToken(emulator, refreshFields(emulator.credentials, first.refresh_token!));
      assert.equal(a.status, 200);
      await clock.advance(20_000);
      const b = await postToken(emulator, refreshFields(emulator.credentials, first.refresh_token!));
      assert.equal(b.status, 200);
      assert.notEqual(b.body.refresh_token, a.body.refresh_token);
      assert.notEqual(b.body.access_token, a.body.access_token);

      // The old access token stays valid until it expires.
      assert.equal((await callApi(emulator, first.access_token, RANGES)).status, 200);

      await clock.advance(10_000);
      const late = await postToken(emulator, refreshFields(emulator.credentials, first.refresh_token!));
      assert.equal(late.status, 400);
      assert.equal(late.body.error, 'invalid_grant');
      assert.equal(late.body.hint, 'Token has been revoked');

      // Both children still work.
      assert.equal(
        (await postToken(emulator, refreshFields(emulator.credentials, a.body.refresh_token as string)))
          .status,
        200,
      );
      assert.equal(
        (await postToken(emulator, refreshFields(emulator.credentials, b.body.refresh_token as string)))
          .status,
        200,
      );

      await clock.advance(3600_000);
      assert.equal((await callApi(emulator, first.access_token, RANGES)).status, 401);
    });
  });

  test('off: no refresh_token in the response and the old refresh token keeps working', async () => {
    await withEmulator({ rotation: 'off' }, async (emulator) => {
      const first = await login(emulator);
      const a = await postToken(emulator, refreshFields(emulator.credentials, first.refresh_token!));
      assert.equal(a.status, 200);
      assert.deepEqual(Object.keys(a.body), ['token_type', 'expires_in', 'access_token']);
      const b = await postToken(emulator, refreshFields(emulator.credentials, first.refresh_token!));
      assert.equal(b.status, 200);
      assert.equal('refresh_token' in b.body, false);
      assert.equal((await callApi(emulator, b.body.access_token as string, RANGES)).status, 200);
    });
  });

  test('an expired access token is 401 (time moved with the now option)', async () => {
    const clock = new FakeClock();
    await withEmulator({ accessTtlSeconds: 600, now: () => clock.now() }, async (emulator) => {
      const tokens = await login(emulator);
      const claims = decodeJwtPart(tokens.access_token, 1);
      assert.equal(claims.iat, Math.floor(clock.now() / 1000));
      assert.equal(claims.exp, Math.floor(clock.now() / 1000) + 600);
      await clock.advance(599_000);
      assert.equal((await callApi(emulator, tokens.access_token, RANGES)).status, 200);
      await clock.advance(1_000);
      const expired = await callApi(emulator, tokens.access_token, RANGES);
      assert.equal(expired.status, 401);
      assert.deepEqual(expired.body, { message: 'Unauthenticated.' });
      // The refresh token still gets a new access token.
      const refreshed = await postToken(emulator, refreshFields(emulator.credentials, tokens.refresh_token!));
      assert.equal(refreshed.status, 200);
    });
  });

  test('an expired refresh token is 400 invalid_grant "Token has expired"', async () => {
    const clock = new FakeClock();
    await withEmulator({ refreshTtlSeconds: 120, now: () => clock.now() }, async (emulator) => {
      const tokens = await login(emulator);
      await clock.advance(120_000);
      const reply = await postToken(emulator, refreshFields(emulator.credentials, tokens.refresh_token!));
      assert.equal(reply.status, 400);
      assert.equal(reply.body.error, 'invalid_grant');
      assert.equal(reply.body.message, 'The refresh token is invalid.');
      assert.equal(reply.body.hint, 'Token has expired');
    });
  });

  test('a missing, malformed or unknown bearer token is 401 Unauthenticated', async () => {
    await withEmulator({}, async (emulator) => {
      const attempts: Array<Record<string, string>> = [
        {},
        { authorization: 'Basic abc' },
        { authorization: 'Bearer not-a-token' },
      ];
      for (const headers of attempts) {
        const response = await fetch(`${emulator.url}${RANGES}`, { headers });
        assert.equal(response.status, 401);
        assert.deepEqual(await response.json(), { message: 'Unauthenticated.' });
      }
    });
  });
});
