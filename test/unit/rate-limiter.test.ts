import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../../src/clock.js';
import { ruleApplies, SlidingWindowLimiter } from '../../src/http/rate-limiter.js';
import { SharedWindowLimiter } from '../../src/http/shared-rate-limiter.js';

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

  it('says how long each caller was held back: 0 with a free slot, its time in the queue behind a wait too', async () => {
    const clock = new FakeClock(0);
    const limiter = new SlidingWindowLimiter({ label: 't', limit: 1, windowMs: 1000 }, clock);
    assert.equal(await limiter.acquire(), 0);
    await clock.advance(400);
    const second = limiter.acquire();
    await clock.advance(200);
    const third = limiter.acquire(); // asked 200 ms later, then queued behind the second
    await clock.advance(5000);
    // Windows of 1,010 ms (1% margin): the second leaves at 1,010, the third at 2,020.
    assert.deepEqual(await Promise.all([second, third]), [610, 1420]);
    await clock.advance(5000);
    assert.equal(await limiter.acquire(), 0, 'free again');
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

describe('SharedWindowLimiter', () => {
  it('says how long each caller was held back by the shared budget, and not for asking the store', async () => {
    const clock = new FakeClock(0);
    // What the store answers each take(): 0 is a slot, more is the ms until the next one.
    const answers = [0, 5000, 0, 0, 0];
    const limits = { take: async () => answers.shift() ?? 0, holdOff: async () => {} };
    const limiter = new SharedWindowLimiter(
      { label: 't', limit: 10, windowMs: 60_000 },
      'acme#0',
      limits,
      clock,
    );
    assert.equal(await limiter.acquire(), 0);
    const held = limiter.acquire(); // the budget is spent: 5 s
    await clock.advance(1000);
    const queued = limiter.acquire(); // asked a second later, behind it
    await clock.advance(4000);
    assert.deepEqual(await Promise.all([held, queued]), [5000, 4000]);
    assert.equal(await limiter.acquire(), 0);
    assert.equal(answers.length, 0, 'every take() was asked');
  });
});
