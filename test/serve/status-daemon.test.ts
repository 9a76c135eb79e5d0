/**
 * `status` tells "kept fresh by a daemon" from the heartbeats a daemon writes to the
 * store's due index.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { statusOf } from '../../src/cli/status.js';
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
