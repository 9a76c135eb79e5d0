import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type BackoffPolicy, backoffDelay, longestDelay } from '../../src/http/backoff.js';
import { DEFAULTS } from '../../src/options.js';

const exact: BackoffPolicy = { initialMs: 100, factor: 2, maxMs: 1000, jitter: 'none' };

describe('backoffDelay', () => {
  it('grows by the factor from the initial delay and stops at the cap', () => {
    const delays = [0, 1, 2, 3, 4, 5].map((attempt) => backoffDelay(exact, attempt, () => 0.5));
    assert.deepEqual(delays, [100, 200, 400, 800, 1000, 1000]);
  });

  it('full jitter scales the delay by the random draw, never above it', () => {
    const policy: BackoffPolicy = { ...exact, jitter: 'full' };
    assert.equal(
      backoffDelay(policy, 2, () => 0),
      0,
    );
    assert.equal(
      backoffDelay(policy, 2, () => 0.25),
      100,
    );
    assert.ok(backoffDelay(policy, 2, () => 0.999) < 400);
  });

  it('spread jitter stays within half to one and a half of the delay', () => {
    const policy: BackoffPolicy = { ...exact, jitter: 'spread' };
    assert.equal(
      backoffDelay(policy, 1, () => 0),
      100,
    );
    assert.equal(
      backoffDelay(policy, 1, () => 0.5),
      200,
    );
    assert.ok(backoffDelay(policy, 1, () => 0.999) < 300);
  });

  it('treats a negative or fractional attempt as the nearest whole attempt at or above 0', () => {
    assert.equal(
      backoffDelay(exact, -3, () => 0),
      100,
    );
    assert.equal(
      backoffDelay(exact, 1.7, () => 0),
      200,
    );
  });

  it('default schedules: token retries 1 s doubling to 1 min with full jitter, lock polling 10 ms to 250 ms', () => {
    const refresh = [0, 1, 5, 6, 20].map((n) => backoffDelay(DEFAULTS.tokenRetry, n, () => 0.999999));
    assert.deepEqual(
      refresh.map((ms) => Math.round(ms)),
      [1_000, 2_000, 32_000, 60_000, 60_000],
    );
    assert.equal(
      backoffDelay(DEFAULTS.tokenRetry, 3, () => 0),
      0,
      'full jitter reaches down to 0',
    );
    const poll = [0, 4, 5, 9].map((n) => backoffDelay(DEFAULTS.lockPoll, n, () => 0.5));
    assert.deepEqual(poll, [10, 160, 250, 250]);
  });

  it('never waits longer than longestDelay, and comes within a draw of it', () => {
    for (const jitter of ['none', 'full', 'spread'] as const) {
      const policy: BackoffPolicy = { ...exact, jitter };
      const delays = [0, 3, 4, 50].flatMap((attempt) =>
        [0, 0.5, 0.999_999].map((draw) => backoffDelay(policy, attempt, () => draw)),
      );
      const longest = longestDelay(policy);
      assert.ok(Math.max(...delays) <= longest, jitter);
      assert.ok(Math.max(...delays) > longest * 0.999, jitter);
    }
  });
});
