import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { LocalDueIndex } from '../../src/serve/local-due-index.js';

describe('LocalDueIndex', () => {
  it('claims what is due, most overdue first, and hides a claim for one lease', async () => {
    const index = new LocalDueIndex();
    await index.scheduleDue('late', 100);
    await index.scheduleDue('later', 200);
    await index.scheduleDue('future', 1_000);
    assert.equal(await index.nextDueAt(), 100);
    assert.deepEqual(await index.claimDue(500, 10, 60), ['late', 'later']);
    assert.deepEqual(
      await index.claimDue(500, 10, 60),
      [],
      'claimed entries are invisible during their lease',
    );
    assert.equal(await index.nextDueAt(), 560);
    // A claimer that never reschedules (it died): due again one lease later.
    assert.deepEqual(await index.claimDue(560, 1, 60), ['late']);
    assert.deepEqual(await index.claimDue(560, 1, 60), ['later']);
  });

  it('moves and drops entries', async () => {
    const index = new LocalDueIndex();
    await index.scheduleDue('a', 100);
    await index.scheduleDue('a', 300); // moved later: not due at 200
    await index.scheduleDue('b', 150);
    await index.unscheduleDue('b');
    assert.deepEqual(await index.claimDue(200, 10, 10), []);
    assert.deepEqual(await index.claimDue(300, 10, 10), ['a']);
    assert.equal(index.size, 1);
    await index.unscheduleDue('a');
    assert.equal(await index.nextDueAt(), undefined);
  });

  it('keeps 100,000 entries in due order through reschedules and removals', async () => {
    const index = new LocalDueIndex();
    const expected = new Map<string, number>();
    let seed = 42;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let i = 0; i < 100_000; i++) {
      const at = Math.floor(random() * 1_000_000);
      await index.scheduleDue(`c${i}`, at);
      expected.set(`c${i}`, at);
    }
    for (let i = 0; i < 100_000; i += 2) {
      const at = Math.floor(random() * 1_000_000);
      await index.scheduleDue(`c${i}`, at);
      expected.set(`c${i}`, at);
    }
    for (let i = 0; i < 100_000; i += 7) {
      await index.unscheduleDue(`c${i}`);
      expected.delete(`c${i}`);
    }
    assert.equal(index.size, expected.size);
    const claimed = await index.claimDue(1_000_000, 200_000, 10_000_000);
    assert.equal(claimed.length, expected.size);
    const times = claimed.map((name) => expected.get(name) as number);
    for (let i = 1; i < times.length; i++)
      assert.ok((times[i - 1] as number) <= (times[i] as number), 'due order');
    assert.deepEqual(new Set(claimed), new Set(expected.keys()));
  });

  it('agrees with a sorted list on any sequence of operations', () =>
    fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.record({
              op: fc.constant('schedule' as const),
              name: fc.constantFrom('a', 'b', 'c', 'd'),
              at: fc.nat(100),
            }),
            fc.record({ op: fc.constant('unschedule' as const), name: fc.constantFrom('a', 'b', 'c', 'd') }),
            fc.record({
              op: fc.constant('claim' as const),
              now: fc.nat(100),
              limit: fc.integer({ min: 1, max: 3 }),
            }),
          ),
          { maxLength: 60 },
        ),
        async (operations) => {
          const index = new LocalDueIndex();
          const model = new Map<string, number>();
          for (const operation of operations) {
            if (operation.op === 'schedule') {
              await index.scheduleDue(operation.name, operation.at);
              model.set(operation.name, operation.at);
            } else if (operation.op === 'unschedule') {
              await index.unscheduleDue(operation.name);
              model.delete(operation.name);
            } else {
              const due = [...model].filter(([, at]) => at <= operation.now).sort((x, y) => x[1] - y[1]);
              const claimed = await index.claimDue(operation.now, operation.limit, 1_000);
              const wanted = due.slice(0, operation.limit);
              assert.deepEqual(
                claimed.map((name) => model.get(name)),
                wanted.map(([, at]) => at),
                'the most overdue, in order',
              );
              for (const name of claimed) model.set(name, operation.now + 1_000);
            }
            const earliest = Math.min(...model.values());
            assert.equal(await index.nextDueAt(), model.size === 0 ? undefined : earliest);
          }
        },
      ),
      { seed: 7, numRuns: 200 },
    ));

  it('knows which daemons beat recently', async () => {
    const index = new LocalDueIndex();
    await index.heartbeat('one', 1_000, 500);
    await index.heartbeat('two', 1_200, 500);
    assert.deepEqual(await index.liveDaemons(1_400), ['one', 'two']);
    assert.deepEqual(await index.liveDaemons(1_600), ['two']);
    assert.deepEqual(await index.liveDaemons(1_800), []);
  });
});
