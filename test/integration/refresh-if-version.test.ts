/**
 * keeper.refresh(name, { ifVersion }): the refresh of a scheduler (the daemon) that read the
 * row itself and judged it due. It goes straight to the lock, and a row written since with a
 * fresh token is taken as it is, with no token request.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createKeeper, type Keeper } from '../../src/keeper.js';
import { generateEncryptionKey } from '../../src/store/encryption.js';
import { MemoryTokenStore } from '../../src/store/memory-store.js';
import { type FactusRig, factusSpec, recordEvents, startFactusRig } from '../helpers/factus.js';
import { ReadCountingStore } from '../helpers/forwarding-store.js';

describe('keeper.refresh with ifVersion', () => {
  let rig: FactusRig;
  let store: ReadCountingStore;
  let keeper: Keeper;
  let other: Keeper;
  before(async () => {
    rig = await startFactusRig();
    store = new ReadCountingStore(new MemoryTokenStore());
    const encryptionKey = generateEncryptionKey();
    const options = { store, encryptionKey, clock: rig.clock, proactiveRefresh: false, env: {} };
    keeper = createKeeper(options);
    other = createKeeper(options); // another process on the same store
  });
  after(async () => {
    await Promise.all([keeper.close(), other.close()]);
    await rig.close();
  });

  const refreshGrants = () => rig.emulator.stats().tokenRequests.refresh_token ?? 0;

  it('refreshes the version it names, reading the row once (under the lock) instead of twice', async () => {
    await keeper.connect('due', factusSpec(rig.emulator));
    const version = (await store.get('due'))?.version as number;
    const grants = refreshGrants();

    store.reads = 0;
    await keeper.refresh('due', { ifVersion: version });
    assert.equal(refreshGrants(), grants + 1, 'the named version was replaced, though its token was fresh');
    assert.equal(store.reads, 1);
    assert.equal((await store.get('due'))?.version, version + 1);

    store.reads = 0;
    await keeper.refresh('due');
    assert.equal(refreshGrants(), grants + 2);
    assert.equal(store.reads, 2, 'without ifVersion the row is read before the lock too');
  });

  it('takes a fresh token written since the version it names, without a token request', async () => {
    await keeper.connect('moved', factusSpec(rig.emulator));
    const seenVersion = (await store.get('moved'))?.version as number;
    await other.refresh('moved'); // someone else refreshed after the scheduler read the row
    const theirs = await other.info('moved');
    const grants = refreshGrants();
    const events = recordEvents(keeper);

    const info = await keeper.refresh('moved', { ifVersion: seenVersion });
    assert.equal(refreshGrants(), grants, 'no token request');
    assert.equal(info.obtainedAt, theirs.obtainedAt);
    assert.deepEqual(events.names(), ['adopt']);
  });

  it('refuses an ifVersion that is not a stored version', async () => {
    for (const ifVersion of [0, -1, 1.5, Number.NaN]) {
      await assert.rejects(keeper.refresh('due', { ifVersion }), {
        name: 'ConfigError',
        message: /ifVersion must be a stored row's version/,
      });
    }
  });
});
