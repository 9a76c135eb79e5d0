/**
 * The due index of one daemon, in memory: used when the store offers no shared one
 * (`store.dueIndex` undefined), so a lone daemon schedules its work through the same
 * DueIndex contract a fleet uses.
 *
 * A min-heap of (due time, name) with lazy deletion: moving or dropping an entry
 * records the name's current due time in a Map, and a heap entry whose time no longer
 * matches is skipped when it reaches the top. Every operation is O(log n), and the heap
 * is rebuilt when stale entries outnumber live ones, so 100,000 connections that are
 * rescheduled all day keep it small.
 */
import { MinHeap } from '../min-heap.js';
import type { DueIndex } from '../store/types.js';

interface Entry {
  at: number;
  name: string;
}

export class LocalDueIndex implements DueIndex {
  readonly #heap = new MinHeap<Entry>();
  /** The current due time of each name; the heap may also hold older, stale entries. */
  readonly #dueAt = new Map<string, number>();
  readonly #daemons = new Map<string, number>();

  async scheduleDue(name: string, dueAtMs: number): Promise<void> {
    this.#set(name, dueAtMs);
  }

  async unscheduleDue(name: string): Promise<void> {
    this.#dueAt.delete(name);
    this.#compactIfSparse();
  }

  async claimDue(nowMs: number, limit: number, leaseMs: number): Promise<string[]> {
    const claimed: string[] = [];
    while (claimed.length < limit) {
      const top = this.#liveTop();
      if (top === undefined || top.at > nowMs) break;
      this.#heap.pop();
      // Off the index while claiming, so another heap entry of this name cannot be claimed too.
      this.#dueAt.delete(top.name);
      claimed.push(top.name);
    }
    // Pushed one lease ahead: due again then if the claimer never reschedules (it died).
    for (const name of claimed) this.#set(name, nowMs + leaseMs);
    return claimed;
  }

  async nextDueAt(): Promise<number | undefined> {
    return this.#liveTop()?.at;
  }

  async heartbeat(id: string, nowMs: number, ttlMs: number): Promise<void> {
    this.#daemons.set(id, nowMs + ttlMs);
  }

  async liveDaemons(nowMs: number): Promise<string[]> {
    return [...this.#daemons].filter(([, until]) => until > nowMs).map(([id]) => id);
  }

  /** Names in the index. */
  get size(): number {
    return this.#dueAt.size;
  }

  #set(name: string, at: number): void {
    if (this.#dueAt.get(name) === at) return; // already there: no second heap entry
    this.#dueAt.set(name, at);
    this.#heap.push({ at, name });
    this.#compactIfSparse();
  }

  /** The earliest entry that is still current, dropping stale ones on the way. */
  #liveTop(): Entry | undefined {
    for (let top = this.#heap.peek(); top !== undefined; top = this.#heap.peek()) {
      if (this.#dueAt.get(top.name) === top.at) return top;
      this.#heap.pop();
    }
    return undefined;
  }

  #compactIfSparse(): void {
    if (this.#heap.size <= 2 * this.#dueAt.size + 64) return;
    this.#heap.replaceAll(Array.from(this.#dueAt, ([name, at]) => ({ at, name })));
  }
}
