/**
 * Proactive refreshes for every session of a keeper on ONE timer: a min-heap of
 * due times, and a single clock timer armed for the earliest. A daemon holds a
 * hundred thousand sessions; a timer each would cost more memory than the
 * tokens themselves.
 *
 * Rescheduling does not search the heap: the session records its current due
 * time, and an entry whose time no longer matches is skipped when it comes up.
 */
import type { Clock, TimerHandle } from '../clock.js';

export interface Schedulable {
  /** When the scheduler will call `onDue`; undefined when nothing is scheduled. Set only by the scheduler. */
  dueAt: number | undefined;
  onDue(): void;
}

interface Entry {
  at: number;
  target: Schedulable;
}

export class RefreshScheduler {
  readonly #heap: Entry[] = [];
  #live = 0;
  #timer: TimerHandle | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #closed = false;

  constructor(private readonly clock: Clock) {}

  /** Calls `target.onDue()` at `at` (at once if it has passed), replacing its previous schedule. */
  schedule(target: Schedulable, at: number): void {
    if (this.#closed || !Number.isFinite(at)) {
      this.cancel(target);
      return;
    }
    if (target.dueAt === undefined) this.#live++;
    target.dueAt = at;
    this.#push({ at, target });
    if (this.#heap.length > 2 * this.#live + 64) this.#compact();
    if (at < this.#timerAt) this.#arm();
  }

  cancel(target: Schedulable): void {
    if (target.dueAt === undefined) return;
    target.dueAt = undefined;
    this.#live--;
  }

  /** Sessions with a refresh scheduled. */
  get size(): number {
    return this.#live;
  }

  close(): void {
    this.#closed = true;
    this.#timer?.cancel();
    this.#timer = undefined;
    for (const entry of this.#heap) entry.target.dueAt = undefined;
    this.#heap.length = 0;
    this.#live = 0;
  }

  #fire(): void {
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    const now = this.clock.now();
    const due: Schedulable[] = [];
    for (let top = this.#heap[0]; top !== undefined && top.at <= now; top = this.#heap[0]) {
      this.#pop();
      if (top.target.dueAt !== top.at) continue; // rescheduled or cancelled since
      top.target.dueAt = undefined;
      this.#live--;
      due.push(top.target);
    }
    this.#arm();
    for (const target of due) target.onDue();
  }

  /** Arms the timer for the earliest live entry, dropping stale ones on the way. */
  #arm(): void {
    let top = this.#heap[0];
    while (top !== undefined && top.target.dueAt !== top.at) {
      this.#pop();
      top = this.#heap[0];
    }
    if (top === undefined || this.#closed) return;
    if (this.#timer !== undefined && this.#timerAt <= top.at) return;
    this.#timer?.cancel();
    this.#timerAt = top.at;
    this.#timer = this.clock.setTimer(() => this.#fire(), top.at - this.clock.now());
  }

  #compact(): void {
    const live = this.#heap.filter((entry) => entry.target.dueAt === entry.at);
    this.#heap.length = 0;
    for (const entry of live) this.#push(entry);
  }

  #push(entry: Entry): void {
    const heap = this.#heap;
    let i = heap.push(entry) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((heap[parent] as Entry).at <= entry.at) break;
      heap[i] = heap[parent] as Entry;
      i = parent;
    }
    heap[i] = entry;
  }

  #pop(): void {
    const heap = this.#heap;
    const last = heap.pop();
    if (last === undefined || heap.length === 0) return;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child =
        right < heap.length && (heap[right] as Entry).at < (heap[left] as Entry).at ? right : left;
      if ((heap[child] as Entry).at >= last.at) break;
      heap[i] = heap[child] as Entry;
      i = child;
    }
    heap[i] = last;
  }
}
