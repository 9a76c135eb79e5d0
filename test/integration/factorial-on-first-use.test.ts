/**
 * The keeper against Factorial's "refresh token revoked on use" rotation: the previous
 * refresh token dies when the new access token is first used. Two keepers sharing one
 * store stand in for two processes holding the same (old) pair.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FakeClock } from '../../src/clock.js';
import {
  type FactorialRunningEmulator,
  startFactorialEmulator,
} from '../../src/emulators/factorial/factorial-emulator.js';
import { createKeeper } from '../../src/keeper.js';
import { autoApprovedCode, factorialCodeSpec } from '../helpers/factorial.js';

const EMPLOYEES = '/api/2026-07-01/resources/employees/employees?limit=1';

async function spec(emulator: FactorialRunningEmulator) {
  return factorialCodeSpec(emulator, await autoApprovedCode(emulator));
}

/** A fetch that remembers every refresh token the token endpoint hands out, in order. */
function recordingFetch(emulator: FactorialRunningEmulator) {
  const refreshTokens: string[] = [];
  const wrapped: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    if (String(input) === emulator.tokenUrl && response.ok) {
      const body = (await response.clone().json()) as { refresh_token?: string };
      if (body.refresh_token) refreshTokens.push(body.refresh_token);
    }
    return response;
  };
  return { fetch: wrapped, refreshTokens };
}

async function status(response: Promise<Response>): Promise<number> {
  const answered = await response;
  await answered.arrayBuffer();
  return answered.status;
}

function refreshDirectly(emulator: FactorialRunningEmulator, refreshToken: string) {
  return fetch(emulator.tokenUrl, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      client_id: emulator.credentials.clientId,
      client_secret: emulator.credentials.clientSecret,
      refresh_token: refreshToken,
    }),
  }).then((response) => response.json() as Promise<Record<string, unknown>>);
}

describe('the keeper under on-first-use rotation', () => {
  it('refreshes, uses the new token (which kills the old refresh token) and keeps refreshing with the new one', async () => {
    const clock = new FakeClock(Date.UTC(2026, 4, 1));
    const emulator = await startFactorialEmulator({ rotation: 'on-first-use', now: () => clock.now() });
    const recorded = recordingFetch(emulator);
    const keeper = createKeeper({
      store: 'memory:',
      clock,
      proactiveRefresh: false,
      env: {},
      fetch: recorded.fetch,
    });
    try {
      await keeper.connect('hr', await spec(emulator));
      await clock.advance(7200_000);
      assert.equal(await status(keeper.fetch('hr', EMPLOYEES)), 200);
      assert.equal(recorded.refreshTokens.length, 2, 'the code exchange and one refresh');

      const [original] = recorded.refreshTokens;
      const stale = await refreshDirectly(emulator, original as string);
      assert.equal(
        stale.error,
        'invalid_grant',
        'first use of the new access token revoked the old refresh token',
      );

      // The keeper persisted the new refresh token, so the next refreshes succeed.
      await keeper.refresh('hr');
      await keeper.refresh('hr');
      assert.equal(await status(keeper.fetch('hr', EMPLOYEES)), 200);
      assert.equal(emulator.stats().invalidGrant, 1, 'only the direct attempt above');
      assert.equal(emulator.stats().tokenRequests.refresh_token, 4);
    } finally {
      await keeper.close();
      await emulator.stop();
    }
  });

  it('two keepers holding the old pair: the one whose old token dies adopts the other’s refresh, no invalid_grant', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tk-on-use-'));
    const clock = new FakeClock(Date.UTC(2026, 4, 1));
    const emulator = await startFactorialEmulator({ rotation: 'on-first-use', now: () => clock.now() });
    const options = { store: join(dir, 'tokens.db'), clock, proactiveRefresh: false, env: {} };
    const first = createKeeper(options);
    const second = createKeeper(options);
    try {
      await first.connect('hr', await spec(emulator));
      const oldToken = await second.getAccessToken('hr');
      assert.equal(await first.getAccessToken('hr'), oldToken, 'both hold the same pair');

      await first.refresh('hr'); // rotated and stored, not used yet
      assert.equal(
        await status(second.fetch('hr', EMPLOYEES)),
        200,
        'the old token lives until the new one is used',
      );
      assert.equal(emulator.stats().unauthorized, 0, 'accepted as it was, not after a renewal');
      assert.equal(await status(first.fetch('hr', EMPLOYEES)), 200);
      // Now the old pair is dead: the second keeper gets a 401, re-reads the store and adopts.
      assert.equal(await status(second.fetch('hr', EMPLOYEES)), 200);
      assert.equal(await second.getAccessToken('hr'), await first.getAccessToken('hr'));

      const stats = emulator.stats();
      assert.equal(stats.tokenRequests.refresh_token, 1, 'one refresh for both');
      assert.equal(stats.invalidGrant, 0);
      assert.equal(stats.unauthorized, 1, 'the one 401 of the old token');

      // At expiry both keepers call at once: one refresh, one token.
      await clock.advance(7200_000);
      const tokens = await Promise.all([first.getAccessToken('hr'), second.getAccessToken('hr')]);
      assert.equal(new Set(tokens).size, 1);
      assert.equal(emulator.stats().tokenRequests.refresh_token, 2);
      assert.equal(emulator.stats().invalidGrant, 0);
    } finally {
      await first.close();
      await second.close();
      await emulator.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
