import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FakeClock } from '../../src/clock.js';
import { startFactusEmulator } from '../../src/emulators/factus/factus-emulator.js';
import { callApi, login, passwordFields, postToken, readJson, refreshFields } from './helpers.js';

describe('Factus emulator rate limit', () => {
  test('after N requests per minute per user: 429 with all the headers, then a new window', async () => {
    const clock = new FakeClock(Date.UTC(2026, 0, 1, 12, 0, 0));
    const emulator = await startFactusEmulator({ rateLimitPerMinute: 3, now: () => clock.now() });
    try {
      const { access_token: token } = await login(emulator);
      for (let index = 0; index < 3; index += 1) {
        const reply = await callApi(emulator, token, '/v1/bills');
        assert.equal(reply.status, 200);
        assert.equal(reply.headers.get('x-ratelimit-limit'), '3');
        assert.equal(reply.headers.get('x-ratelimit-remaining'), String(2 - index));
        assert.equal(reply.headers.get('retry-after'), null);
      }
      await clock.advance(15_000);
      const refused = await callApi(emulator, token, '/v1/bills');
      assert.equal(refused.status, 429);
      assert.equal(refused.headers.get('x-ratelimit-limit'), '3');
      assert.equal(refused.headers.get('x-ratelimit-remaining'), '0');
      assert.equal(refused.headers.get('retry-after'), '45');
      assert.equal(refused.headers.get('x-ratelimit-reset'), String(Date.UTC(2026, 0, 1, 12, 1, 0) / 1000));
      assert.equal(typeof refused.body.message, 'string');

      // Another token for the same user shares the bucket.
      const { access_token: sibling } = await login(emulator);
      assert.equal((await callApi(emulator, sibling, '/v1/numbering-ranges')).status, 429);

      // The token endpoint is not limited.
      assert.equal((await postToken(emulator, passwordFields(emulator.credentials))).status, 200);

      await clock.advance(45_000);
      const fresh = await callApi(emulator, token, '/v1/bills');
      assert.equal(fresh.status, 200);
      assert.equal(fresh.headers.get('x-ratelimit-remaining'), '2');
      assert.equal(emulator.stats().rateLimited, 2);
    } finally {
      await emulator.stop();
    }
  });

  test('each user has their own bucket', async () => {
    const emulator = await startFactusEmulator({ rateLimitPerMinute: 1 });
    const other = await startFactusEmulator({
      rateLimitPerMinute: 1,
      credentials: { username: 'b@example.com' },
    });
    try {
      const a = await login(emulator);
      assert.equal((await callApi(emulator, a.access_token, '/v1/bills')).status, 200);
      assert.equal((await callApi(emulator, a.access_token, '/v1/bills')).status, 429);
      const b = await login(other);
      assert.equal((await callApi(other, b.access_token, '/v1/bills')).status, 200);
    } finally {
      await Promise.all([emulator.stop(), other.stop()]);
    }
  });
});

describe('Factus emulator stats', () => {
  test('count token requests per grant, invalid grants, API calls, 401s and 429s; reset zeroes them', async () => {
    const emulator = await startFactusEmulator({ rateLimitPerMinute: 2 });
    try {
      const zero = {
        tokenRequests: { total: 0, password: 0, refresh_token: 0 },
        invalidGrant: 0,
        apiRequests: 0,
        unauthorized: 0,
        rateLimited: 0,
        faults: { total: 0, token: 0, api: 0 },
      };
      const initial = await readJson(await fetch(`${emulator.url}/__emulator/stats`));
      assert.equal(initial.status, 200);
      assert.equal(JSON.stringify(initial.body), JSON.stringify(zero));

      const tokens = await login(emulator);
      await postToken(emulator, { ...passwordFields(emulator.credentials), password: 'wrong' });
      const refreshed = await postToken(emulator, refreshFields(emulator.credentials, tokens.refresh_token!));
      await postToken(emulator, refreshFields(emulator.credentials, tokens.refresh_token!));
      await postToken(emulator, { grant_type: 'client_credentials' });
      await callApi(emulator, undefined, '/v1/bills');
      await callApi(emulator, tokens.access_token, '/v1/bills');
      const token = refreshed.body.access_token as string;
      await callApi(emulator, token, '/v1/bills');
      await callApi(emulator, token, '/v1/bills');
      await callApi(emulator, token, '/v1/bills');

      const expected = {
        tokenRequests: { total: 5, password: 2, refresh_token: 2 },
        invalidGrant: 2,
        apiRequests: 5,
        unauthorized: 2,
        rateLimited: 1,
        faults: { total: 0, token: 0, api: 0 },
      };
      const stats = await readJson(await fetch(`${emulator.url}/__emulator/stats`));
      assert.equal(JSON.stringify(stats.body), JSON.stringify(expected));
      assert.deepEqual(emulator.stats(), expected);

      const reset = await fetch(`${emulator.url}/__emulator/reset`, { method: 'POST' });
      assert.equal(reset.status, 204);
      assert.equal(await reset.text(), '');
      assert.deepEqual(emulator.stats(), zero);
      // Tokens survive a reset of the counters.
      assert.equal(
        (
          await postToken(
            emulator,
            refreshFields(emulator.credentials, refreshed.body.refresh_token as string),
          )
        ).status,
        200,
      );
      emulator.resetStats();
      assert.deepEqual(emulator.stats(), zero);

      assert.equal((await fetch(`${emulator.url}/__emulator/reset`)).status, 405);
    } finally {
      await emulator.stop();
    }
  });
});
