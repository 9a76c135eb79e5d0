import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MinHeap } from '../../src/min-heap.js';

describe('MinHeap', () => {
  it('pops in order of `at` whatever the order of pushes and pops', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer({ min: -1_000, max: 1_000 }), fc.constant(null))), (steps) => {
        const heap = new MinHeap<{ at: number }>();
        const sorted: number[] = [];
        for (const step of steps) {
          if (step === null) {
            sorted.sort((a, b) => a - b);
            assert.equal(heap.pop()?.at, sorted.shift());
          } else {
            heap.push({ at: step });
            sorted.push(step);
          }
          assert.equal(heap.size, sorted.length);
          assert.equal(heap.peek()?.at, sorted.length === 0 ? undefined : Math.min(...sorted));
        }
      }),
    );
  });

  it('replaceAll empties the heap and keeps only what it is given', () => {
    const heap = new MinHeap<{ at: number }>();
    for (const at of [5, 1, 3]) heap.push({ at });
    heap.replaceAll([{ at: 9 }, { at: 7 }]);
    assert.deepEqual([heap.pop()?.at, heap.pop()?.at, heap.pop()?.at], [7, 9, undefined]);
  });
});
