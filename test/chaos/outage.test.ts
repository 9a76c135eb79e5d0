/**
 * The token endpoint down for 30 s while the access token is still valid, and a
 * 429 storm, on the emulators' fault injection. Token time is a fake clock shared
 * with the emulator, so the 30 s pass in a moment and every instant is exact.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { FakeClock } from '../../src/clock.js';
import { startFactusEmulator } from '../../src/emulators/factus/factus-emulator.js';
import { createKeeper } from '../../src/keeper.js';
import { MemoryTokenStore } from '../../src/store/memory-store.js';
import { factusSpec } from '../helpers/factus.js';

describe('chaos: the token endpoint is down for 30 s', () => {
  it('0 failed API calls, the refresh lands within a second of recovery, bounded token requests', async () => {
    const clock = new FakeClock(Date.now());
    const emulator = await startFactusEmulator({ now: () => clock.now(), accessTtlSeconds: 40 });
    const keeper = createKeeper({
      store: new MemoryTokenStore(),
      clock,
      env: {},
      // Retries at most a second apart, so recovery is noticed within a second.
      tokenRetry: { maxMs: 1_000 },
    });
    try {
      await keeper.connect('acme', factusSpec(emulator));
      const refreshedAt: number[] = [];
      keeper.on('refresh', () => refreshedAt.push(clock.now()));
      emulator.faults.add({ point: 'token', status: 503, forMs: 30_000 });
      const recovery = clock.now() + 30_000;
      let failedCalls = 0;
      for (let elapsed = 0; elapsed < 34_000; elapsed += 250) {
        await clock.advance(250);
        await sleep(5); // lets a refresh the timer started reach the emulator
        // One API call a second of token time: Factus allows 80 a minute, and this loop runs faster.
        if (elapsed % 1_000 !== 0) continue;
        const response = await keeper.fetch('acme', '/v1/numbering-ranges');
        if (response.status !== 200) failedCalls++;
        await response.arrayBuffer();
      }
      const stats = emulator.stats();
      assert.equal(failedCalls, 0);
      assert.equal(stats.unauthorized, 0, 'no call went out with an expired token');
      assert.ok(refreshedAt.length >= 1, 'the refresh happened after the outage');
      assert.ok(refreshedAt[0]! >= recovery, 'not during the outage');
      assert.ok(refreshedAt[0]! - recovery <= 1_250, `${refreshedAt[0]! - recovery} ms after recovery`);
      // The token went stale 16-20 s in: at most one attempt a second until recovery.
      const attempts = stats.faults.token ?? 0;
      assert.ok(attempts >= 5, `${attempts} attempts during the outage`);
      assert.ok(attempts <= 16, `${attempts} attempts during the outage`);
    } finally {
      await keeper.close();
      await emulator.stop();
    }
  });
});

describe('chaos: a 429 storm', () => {
  it('no request goes out before Retry-After allows it', async () => {
    const emulator = await startFactusEmulator();
    const sentAt: number[] = [];
    const keeper = createKeeper({
      store: new MemoryTokenStore(),
      proactiveRefresh: false,
      env: {},
      fetch: (input, init) => {
        if (String(input).includes('/v1/')) sentAt.push(Date.now());
        return fetch(input, init);
      },
    });
    try {
      await keeper.connect('acme', factusSpec(emulator));
      emulator.faults.add({ point: 'api', status: 429, retryAfter: 1, count: 2 });
      const response = await keeper.fetch('acme', '/v1/numbering-ranges');
      assert.equal(response.status, 200);
      await response.arrayBuffer();
      assert.equal(sentAt.length, 3);
      for (let i = 1; i < sentAt.length; i++) {
        assert.ok(
          sentAt[i]! - sentAt[i - 1]! >= 1_000,
          `retry ${i} went out after ${sentAt[i]! - sentAt[i - 1]!} ms`,
        );
      }
    } finally {
      await keeper.close();
      await emulator.stop();
    }
  });
});
