import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../../src/clock.js';
import { startFactusEmulator } from '../../src/emulators/factus/factus-emulator.js';
import type { TokenkeeperError } from '../../src/errors.js';
import { createKeeper } from '../../src/keeper.js';
import { MemoryTokenStore } from '../../src/store/memory-store.js';
import { factusSpec, recordEvents, startFactusRig } from '../helpers/factus.js';

const DAY = 86_400_000;

describe('a rejected refresh token (invalid_grant)', () => {
  it('falls back to the password grant when the connection holds the user’s credentials', async () => {
    // Refresh tokens live one day here; the connection sits unused for two.
    const rig = await startFactusRig({
      emulator: { refreshTtlSeconds: 86_400 },
      keeper: { proactiveRefresh: false },
    });
    try {
      const events = recordEvents(rig.keeper);
      await rig.keeper.connect('acme', rig.spec);
      const before = await rig.keeper.getAccessToken('acme');
      await rig.clock.advance(2 * DAY);
      rig.emulator.resetStats();
      const after = await rig.keeper.getAccessToken('acme');
      assert.notEqual(after, before);
      const stats = rig.emulator.stats();
      assert.deepEqual(stats.tokenRequests, { total: 2, password: 1, refresh_token: 1 });
      assert.equal(stats.invalidGrant, 1);
      assert.deepEqual(events.names(), ['token', 'refresh_failed', 'token']);
      assert.equal(events.seen[1]?.payload.code, 'TOKEN_ENDPOINT');
      assert.match(
        String(events.seen[1]?.payload.message),
        /logging in again with the saved password credentials/,
      );
      assert.equal((await rig.keeper.info('acme')).state, 'ok');
    } finally {
      await rig.close();
    }
  });

  it('marks the connection "re-authorization required" when nothing else works, and stops calling the provider', async () => {
    const clock = new FakeClock(Date.UTC(2026, 2, 1));
    const store = new MemoryTokenStore();
    const first = await startFactusEmulator({ now: () => clock.now() });
    const port = Number(new URL(first.url).port);
    const keeper = createKeeper({ store, clock, proactiveRefresh: false, env: {} });
    const events = recordEvents(keeper);
    try {
      await keeper.connect('acme', factusSpec(first));
      await first.stop();
      // The provider comes back knowing nothing of our refresh token, and the password was changed.
      const second = await startFactusEmulator({
        port,
        now: () => clock.now(),
        credentials: { password: 'changed-by-the-user' },
      });
      try {
        await clock.advance(2 * 3600_000);
        await assert.rejects(keeper.getAccessToken('acme'), (error: TokenkeeperError) => {
          assert.equal(error.code, 'REAUTH_REQUIRED');
          assert.match(error.message, /tokenkeeper login acme/);
          assert.doesNotMatch(error.message, /factus-emulator-password|changed-by-the-user/);
          return true;
        });
        assert.deepEqual(second.stats().tokenRequests, { total: 2, password: 1, refresh_token: 1 });
        assert.equal(second.stats().invalidGrant, 2);
        const info = await keeper.info('acme');
        assert.equal(info.state, 'reauth_required');
        assert.match(info.lastError?.message ?? '', /rejected/);
        assert.deepEqual(events.names().slice(-2), ['refresh_failed', 'reauth_required']);

        // Every later call fails at once from the stored state: the token endpoint is not hammered.
        for (let i = 0; i < 5; i++) {
          await assert.rejects(keeper.getAccessToken('acme'), /needs a new login/);
        }
        assert.equal(second.stats().tokenRequests.total, 2);
      } finally {
        await second.stop();
      }
    } finally {
      await keeper.close();
    }
  });

  it('adopts the tokens a sibling rotated instead of declaring the connection dead', async () => {
    const rig = await startFactusRig({ keeper: { proactiveRefresh: false } });
    const store = new MemoryTokenStore();
    const mine = createKeeper({
      store,
      clock: rig.clock,
      proactiveRefresh: false,
      env: { TOKENKEEPER_KEY: 'a'.repeat(64) },
    });
    const sibling = createKeeper({
      store,
      clock: rig.clock,
      proactiveRefresh: false,
      env: { TOKENKEEPER_KEY: 'a'.repeat(64) },
    });
    try {
      await mine.connect('acme', rig.spec);
      const mineFirst = await mine.getAccessToken('acme');
      await sibling.refresh('acme'); // rotates: our refresh token and access token are now revoked
      rig.emulator.resetStats();
      const response = await mine.fetch('acme', '/v1/bills');
      assert.equal(response.status, 200);
      await response.arrayBuffer();
      assert.notEqual(await mine.getAccessToken('acme'), mineFirst);
      assert.equal(await mine.getAccessToken('acme'), await sibling.getAccessToken('acme'));
      const stats = rig.emulator.stats();
      assert.equal(stats.tokenRequests.total, 0, 'the stored tokens were adopted, no grant was needed');
      assert.equal(stats.invalidGrant, 0);
    } finally {
      await mine.close();
      await sibling.close();
      await rig.close();
    }
  });
});
