/**
 * A store that offers a shared due index (every built-in backend does; the memory store's
 * here): `status` tells "kept fresh by a daemon" from the heartbeats in it, and two daemons
 * on it split the work.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { statusOf } from '../../src/cli/status.js';
import { startDaemon } from '../../src/serve/daemon.js';
import { MemoryTokenStore } from '../../src/store/memory-store.js';
import { connectFactus, eventually, startServeRig } from './serve-rig.js';

describe('status and the daemon', () => {
  it('says a connection is kept fresh while a daemon beats on the store, and stops saying it after', async () => {
    const store = new MemoryTokenStore();
    const rig = await startServeRig({ store, daemon: { heartbeatMs: 100 } });
    try {
      await connectFactus(rig, 'acme');
      assert.deepEqual(await rig.cli.liveDaemons(), [rig.daemon.id]);
      const details = await rig.cli.details('acme');
      const kept = statusOf(details, rig.clock.now(), true);
      assert.equal(kept.keptFreshByDaemon, true);
      assert.match(kept.expiry, /^valid until .*; kept fresh by a daemon$/);
      const alone = statusOf(details, rig.clock.now(), false);
      assert.equal(alone.keptFreshByDaemon, false);
      assert.match(alone.expiry, /refreshes on next use after that$/);

      await rig.daemon.close();
      await eventually(async () => (await rig.cli.liveDaemons()).length === 0, 'the heartbeat runs out');
    } finally {
      await rig.close();
      await store.close();
    }
  });
});

describe('two daemons on one shared due index', () => {
  it('split the refreshes: each due refresh is asked of the provider once', async () => {
    const store = new MemoryTokenStore();
    const rig = await startServeRig({ store, factus: { accessTtlSeconds: 600 } });
    const second = await startDaemon({
      store,
      encryptionKey: rig.key,
      clock: rig.clock,
      env: { TOKENKEEPER_SERVE_SECRET: 'another-daemon-secret-0123456789' },
      watchIntervalMs: 50,
    });
    const refreshedBy = new Map<string, number>();
    for (const [who, daemon] of [
      ['first', rig.daemon],
      ['second', second],
    ] as const) {
      daemon.keeper.on('refresh', () => refreshedBy.set(who, (refreshedBy.get(who) ?? 0) + 1));
    }
    try {
      for (let i = 0; i < 8; i++) await connectFactus(rig, `c${i}`);
      await Promise.all([rig.daemon.keepAlive.sync(), second.keepAlive.sync()]);
      for (let minute = 0; minute < 30; minute++) {
        await rig.clock.advance(60_000);
        await Promise.all([rig.daemon.keepAlive.whenIdle(), second.keepAlive.whenIdle()]);
      }
      // 10-minute tokens for 30 minutes: three refreshes each, none twice.
      const asked = rig.factus.stats().tokenRequests.refresh_token ?? 0;
      assert.ok(
        asked >= 24 && asked <= 27,
        `expected 24 to 27 token requests for 8 connections, got ${asked}`,
      );
      assert.ok(
        (refreshedBy.get('first') ?? 0) > 0 && (refreshedBy.get('second') ?? 0) > 0,
        'both took a share',
      );
    } finally {
      await second.close();
      await rig.close();
      await store.close();
    }
  });
});
