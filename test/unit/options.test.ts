import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock, systemClock } from '../../src/clock.js';
import { DEFAULTS, resolveKeeperOptions } from '../../src/options.js';

describe('resolveKeeperOptions', () => {
  it('fills every default from one table', () => {
    const settings = resolveKeeperOptions({ env: {} });
    assert.equal(settings.clock, systemClock);
    assert.equal(settings.pacingClock, systemClock);
    assert.equal(settings.requestTimeoutMs, DEFAULTS.requestTimeoutMs);
    assert.equal(settings.lock.ttlMs, DEFAULTS.lockTtlMs);
    assert.equal(settings.lock.waitMs, DEFAULTS.lockWaitMs);
    assert.equal(settings.rateLimit.maxRetryAfterMs, DEFAULTS.maxRetryAfterSeconds * 1000);
    assert.equal(settings.refreshTiming.marginMs, 60_000);
    assert.equal(settings.proactiveRefresh, true);
  });

  it('takes the caller’s values, converting seconds to milliseconds', () => {
    const clock = new FakeClock(0);
    const pacing = new FakeClock(0);
    const settings = resolveKeeperOptions({
      clock,
      pacingClock: pacing,
      refreshMarginSeconds: 5,
      maxRetryAfterSeconds: 0,
      requestTimeoutMs: 2_000,
      lockTtlMs: 1_000,
      proactiveRefresh: false,
      env: {},
    });
    assert.equal(settings.clock, clock);
    assert.equal(settings.pacingClock, pacing);
    assert.equal(settings.refreshTiming.marginMs, 5_000);
    assert.equal(settings.rateLimit.maxRetryAfterMs, 0);
    assert.equal(settings.requestTimeoutMs, 2_000);
    assert.equal(settings.preflightTimeoutMs, 2_000, 'the pre-flight never waits longer than a request');
    assert.equal(settings.lock.ttlMs, 1_000);
    assert.equal(settings.proactiveRefresh, false);
  });

  it('refuses values that would break the timing, naming the option', () => {
    assert.throws(() => resolveKeeperOptions({ requestTimeoutMs: 0 }), /requestTimeoutMs/);
    assert.throws(() => resolveKeeperOptions({ lockWaitMs: Number.NaN }), /lockWaitMs/);
    assert.throws(() => resolveKeeperOptions({ refreshMarginSeconds: -1 }), /refreshMarginSeconds/);
    assert.throws(() => resolveKeeperOptions({ maxRetryAfterSeconds: -5 }), /maxRetryAfterSeconds/);
  });

  it('refuses durations no timer can wait, and rounds the request timeout up to whole ms', () => {
    // Found by the fuzz suite: requestTimeoutMs 1e20 or 0.5 made every token request fail with
    // AbortSignal.timeout's RangeError; maxRetryAfterSeconds 1e7 let fetch sleep past setTimeout's
    // range, which fires at once; lockTtlMs 0.5 was refused by every store at the first refresh.
    for (const options of [
      { requestTimeoutMs: 1e20 },
      { requestTimeoutMs: 2 ** 31 },
      { lockWaitMs: 2 ** 31 },
      { lockTtlMs: 0.5 },
      { maxRetryAfterSeconds: 1e7 },
    ]) {
      assert.throws(
        () => resolveKeeperOptions({ ...options, env: {} }),
        { code: 'CONFIG' },
        JSON.stringify(options),
      );
    }
    const settings = resolveKeeperOptions({ requestTimeoutMs: 0.5, env: {} });
    assert.equal(settings.requestTimeoutMs, 1);
    AbortSignal.timeout(settings.requestTimeoutMs);
    assert.equal(
      resolveKeeperOptions({ maxRetryAfterSeconds: 86_400, env: {} }).rateLimit.maxRetryAfterMs,
      86_400_000,
    );
  });
});
