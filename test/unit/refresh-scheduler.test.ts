import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../../src/clock.js';
import { RefreshScheduler, type Schedulable } from '../../src/session/refresh-scheduler.js';

function target(name: string, fired: string[], clock: FakeClock): Schedulable {
  return { dueAt: undefined, onDue: () => fired.push(`${name}@${clock.now()}`) };
}

describe('RefreshScheduler', () => {
  it('fires each target at its own time, in due order, on a single timer', async () => {
    const clock = new FakeClock(0);
    const scheduler = new RefreshScheduler(clock);
    const fired: string[] = [];
    const names = ['c', 'a', 'd', 'b'];
    const due: Record<string, number> = { a: 100, b: 300, c: 50, d: 200 };
    for (const name of names) scheduler.schedule(target(name, fired, clock), due[name] as number);
    assert.equal(clock.pendingTimers, 1, 'one timer for all targets');
    assert.equal(scheduler.size, 4);
    await clock.advance(1_000);
    assert.deepEqual(fired, ['c@50', 'a@100', 'd@200', 'b@300']);
    assert.equal(scheduler.size, 0);
    assert.equal(clock.pendingTimers, 0);
  });

  it('a new schedule replaces the old one; cancel removes it', async () => {
    const clock = new FakeClock(0);
    const scheduler = new RefreshScheduler(clock);
    const fired: string[] = [];
    const moved = target('moved', fired, clock);
    const cancelled = target('cancelled', fired, clock);
    scheduler.schedule(moved, 100);
    scheduler.schedule(cancelled, 150);
    scheduler.schedule(moved, 400);
    scheduler.cancel(cancelled);
    await clock.advance(1_000);
    assert.deepEqual(fired, ['moved@400']);
  });

  it('fires a time that has already passed at once, and skips a non-finite one', async () => {
    const clock = new FakeClock(1_000);
    const scheduler = new RefreshScheduler(clock);
    const fired: string[] = [];
    scheduler.schedule(target('late', fired, clock), 10);
    const never = target('never', fired, clock);
    scheduler.schedule(never, Number.POSITIVE_INFINITY);
    assert.equal(never.dueAt, undefined);
    await clock.advance(0);
    assert.deepEqual(fired, ['late@1000']);
  });

  it('lets a target reschedule itself from onDue', async () => {
    const clock = new FakeClock(0);
    const scheduler = new RefreshScheduler(clock);
    const fired: number[] = [];
    const again: Schedulable = {
      dueAt: undefined,
      onDue: () => {
        fired.push(clock.now());
        if (fired.length < 3) scheduler.schedule(again, clock.now() + 100);
      },
    };
    scheduler.schedule(again, 100);
    await clock.advance(1_000);
    assert.deepEqual(fired, [100, 200, 300]);
  });

  it('stays correct when many reschedules leave stale entries behind', async () => {
    const clock = new FakeClock(0);
    const scheduler = new RefreshScheduler(clock);
    const fired: string[] = [];
    const targets = Array.from({ length: 20 }, (_, i) => target(`t${i}`, fired, clock));
    // Every target is moved 50 times: the heap compacts on the way.
    for (let round = 0; round < 50; round++) {
      targets.forEach((t, i) => {
        scheduler.schedule(t, 10_000 + round * 10 + i);
      });
    }
    assert.equal(scheduler.size, 20);
    await clock.advance(20_000);
    assert.equal(fired.length, 20);
    assert.deepEqual(
      fired,
      targets.map((_, i) => `t${i}@${10_000 + 49 * 10 + i}`),
    );
  });

  it('fires nothing after close', async () => {
    const clock = new FakeClock(0);
    const scheduler = new RefreshScheduler(clock);
    const fired: string[] = [];
    scheduler.schedule(target('x', fired, clock), 10);
    scheduler.close();
    scheduler.schedule(target('y', fired, clock), 20);
    await clock.advance(100);
    assert.deepEqual(fired, []);
  });
});
