import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SingleFlight } from '../../src/refresh/single-flight.js';

describe('SingleFlight', () => {
  it('runs one operation per key and shares its result with every caller', async () => {
    const flight = new SingleFlight<number>();
    let runs = 0;
    let release!: (value: number) => void;
    const operation = () => {
      runs++;
      return new Promise<number>((resolve) => {
        release = resolve;
      });
    };
    const callers = Array.from({ length: 100 }, () => flight.run('a', operation));
    release(42);
    assert.deepEqual(new Set(await Promise.all(callers)), new Set([42]));
    assert.equal(runs, 1);
    assert.equal(flight.isRunning('a'), false);
  });

  it('shares a failure too, and lets the next call start afresh', async () => {
    const flight = new SingleFlight<number>();
    const failing = () => Promise.reject(new Error('boom'));
    await assert.rejects(Promise.all([flight.run('a', failing), flight.run('a', failing)]), /boom/);
    assert.equal(await flight.run('a', async () => 7), 7);
  });

  it('keeps keys apart', async () => {
    const flight = new SingleFlight<string>();
    const [a, b] = await Promise.all([flight.run('a', async () => 'A'), flight.run('b', async () => 'B')]);
    assert.deepEqual([a, b], ['A', 'B']);
  });
});
