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
import { MinHeap } from '../min-heap.js';

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
  readonly #heap = new MinHeap<Entry>();
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
    this.#heap.push({ at, target });
    if (this.#heap.size > 2 * this.#live + 64) this.#compact();
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
    for (const entry of this.#heap.entries()) entry.target.dueAt = undefined;
    this.#heap.replaceAll([]);
    this.#live = 0;
  }

  #fire(): void {
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    const now = this.clock.now();
    const due: Schedulable[] = [];
    for (let top = this.#heap.peek(); top !== undefined && top.at <= now; top = this.#heap.peek()) {
      this.#heap.pop();
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
    let top = this.#heap.peek();
    while (top !== undefined && top.target.dueAt !== top.at) {
      this.#heap.pop();
      top = this.#heap.peek();
    }
    if (top === undefined || this.#closed) return;
    if (this.#timer !== undefined && this.#timerAt <= top.at) return;
    this.#timer?.cancel();
    this.#timerAt = top.at;
    this.#timer = this.clock.setTimer(() => this.#fire(), top.at - this.clock.now());
  }

  #compact(): void {
    this.#heap.replaceAll(this.#heap.entries().filter((entry) => entry.target.dueAt === entry.at));
  }
}
