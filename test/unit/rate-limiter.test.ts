import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../../src/clock.js';
import { ruleApplies, SlidingWindowLimiter } from '../../src/http/rate-limiter.js';

describe('SlidingWindowLimiter', () => {
  it('lets `limit` requests through per window and makes the next one wait for the oldest to age out (plus 1% margin)', async () => {
    const clock = new FakeClock(0);
    const limiter = new SlidingWindowLimiter({ label: 't', limit: 3, windowMs: 60_000 }, clock);
    for (let i = 0; i < 3; i++) await limiter.acquire();
    let fourthSentAt: number | undefined;
    const fourth = limiter.acquire().then(() => {
      fourthSentAt = clock.now();
    });
    await clock.advance(60_499);
    assert.equal(fourthSentAt, undefined);
    await clock.advance(1);
    await fourth;
    assert.equal(fourthSentAt, 60_500);
  });

  it('serves waiting callers in arrival order', async () => {
    const clock = new FakeClock(0);
    const limiter = new SlidingWindowLimiter({ label: 't', limit: 1, windowMs: 1000 }, clock);
    const order: number[] = [];
    const all = [1, 2, 3].map((n) => limiter.acquire().then(() => order.push(n)));
    await clock.advance(5000);
    await Promise.all(all);
    assert.deepEqual(order, [1, 2, 3]);
  });

  it('holds everything back after the server answered 429', async () => {
    const clock = new FakeClock(0);
    const limiter = new SlidingWindowLimiter({ label: 't', limit: 100, windowMs: 60_000 }, clock);
    limiter.backOff(5000);
    assert.equal(limiter.delayUntilFree(), 5000);
  });

  it('applies rules by method and path', () => {
    const rule = {
      label: 'v1 posts',
      limit: 100,
      windowMs: 60_000,
      methods: ['POST'],
      pathPattern: /^\/api\/v1\//,
    };
    assert.equal(ruleApplies(rule, 'post', '/api/v1/employees'), true);
    assert.equal(ruleApplies(rule, 'GET', '/api/v1/employees'), false);
    assert.equal(ruleApplies(rule, 'POST', '/api/v2/employees'), false);
  });
});
