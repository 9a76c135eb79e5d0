import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../../src/clock.js';
import { MemoryTokenStore } from '../../src/store/memory-store.js';
import { runTokenStoreContract } from './contract.js';

runTokenStoreContract('memory', async () => new MemoryTokenStore());

describe('MemoryTokenStore', () => {
  it('measures leases with the injected clock', async () => {
    const clock = new FakeClock();
    const store = new MemoryTokenStore({ clock });
    assert.equal(await store.tryLock('acme', 'a', 1000), true);
    await clock.advance(999);
    assert.equal(await store.tryLock('acme', 'b', 1000), false);
    await clock.advance(1);
    assert.equal(await store.tryLock('acme', 'b', 1000), true);
    assert.equal(await store.unlock('acme', 'a'), false);
    assert.equal(await store.unlock('acme', 'b'), true);
  });

  it('keeps separate instances separate', async () => {
    const one = new MemoryTokenStore();
    const two = new MemoryTokenStore();
    await one.put('acme', {}, 's', 0);
    assert.equal(await two.get('acme'), undefined);
    assert.equal(one.location, 'memory:');
  });
});
