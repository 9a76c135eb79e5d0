/**
 * The rate-limit gate on a store's shared budgets, with two SQLite stores on one file
 * standing for two processes. The pacing clock is fake, so a gate that must wait stays
 * pending instead of sleeping.
 */

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FakeClock } from '../../src/clock.js';
import { createRateLimitGate } from '../../src/http/rate-limit-gate.js';
import { SqliteTokenStore } from '../../src/store/sqlite-store.js';

const dir = await mkdtemp(join(tmpdir(), 'tk-gate-'));
after(() => rm(dir, { recursive: true, force: true }));

/** Settles every promise that can settle without a timer: the SQLite work is synchronous. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

async function isPending(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  await settle();
  return !settled;
}

describe('rate-limit gate on shared budgets', () => {
  const rule = { label: 'Factus API (test)', limit: 10, windowMs: 60_000 };

  async function twoProcesses(test: (a: SqliteTokenStore, b: SqliteTokenStore) => Promise<void>) {
    const path = join(dir, `${Math.random().toString(36).slice(2)}.db`);
    const a = await SqliteTokenStore.open(path);
    const b = await SqliteTokenStore.open(path);
    try {
      await test(a, b);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  }

  it('counts the requests of both processes in one budget per connection', () =>
    twoProcesses(async (a, b) => {
      const clock = new FakeClock();
      const gateA = createRateLimitGate([rule], clock, { limits: a.rateLimits, scope: 'acme' })!;
      const gateB = createRateLimitGate([rule], clock, { limits: b.rateLimits, scope: 'acme' })!;
      const otherConnection = createRateLimitGate([rule], clock, { limits: b.rateLimits, scope: 'other' })!;
      // 10 a minute is 2 per quarter minute (fixed-windows.ts): one each, then the budget is spent.
      await gateA.acquire('GET', '/v1/bills');
      await gateB.acquire('GET', '/v1/bills');
      assert.equal(await isPending(gateA.acquire('GET', '/v1/bills')!), true, 'A waits for B’s request too');
      assert.equal(await isPending(otherConnection.acquire('GET', '/v1/bills')!), false);
    }));

  it('holds every process back after a 429 seen by one of them', () =>
    twoProcesses(async (a, b) => {
      const clock = new FakeClock();
      const gateA = createRateLimitGate([rule], clock, { limits: a.rateLimits, scope: 'acme' })!;
      const gateB = createRateLimitGate([rule], clock, { limits: b.rateLimits, scope: 'acme' })!;
      await gateB.acquire('GET', '/v1/bills'); // room left in the budget
      gateA.backOff('GET', '/v1/bills', 30_000);
      await settle();
      assert.equal(await isPending(gateA.acquire('GET', '/v1/bills')!), true, 'A holds back at once');
      assert.equal(
        await isPending(gateB.acquire('GET', '/v1/bills')!),
        true,
        'B hears of it through the store',
      );
    }));
});
