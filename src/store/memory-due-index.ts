/**
 * The due index of a MemoryTokenStore: a map of due times, scanned on each claim. One
 * process has nobody to share with, so this is for tests and for code written against
 * DueIndex that must also run on `memory:`.
 */

import type { DueIndex } from './types.js';
import {
  assertConnectionName,
  assertDaemonId,
  checkClaimLimit,
  checkDurationMs,
  checkEpochMs,
} from './validate.js';

export class MemoryDueIndex implements DueIndex {
  readonly #due = new Map<string, number>();
  readonly #heartbeats = new Map<string, number>();

  /** `assertOpen` throws once the store is closed. */
  constructor(private readonly assertOpen: () => void) {}

  async scheduleDue(name: string, dueAtMs: number): Promise<void> {
    this.assertOpen();
    assertConnectionName(name);
    this.#due.set(name, checkEpochMs('dueAtMs', dueAtMs));
  }

  async unscheduleDue(name: string): Promise<void> {
    this.assertOpen();
    assertConnectionName(name);
    this.#due.delete(name);
  }

  /** The store's delete drops the entry too (no checks: the store made them). */
  drop(name: string): void {
    this.#due.delete(name);
  }

  async claimDue(nowMs: number, limit: number, leaseMs: number): Promise<string[]> {
    this.assertOpen();
    const now = checkEpochMs('nowMs', nowMs);
    const take = checkClaimLimit(limit);
    const until = now + checkDurationMs('leaseMs', leaseMs);
    // One pass over the map; only what is due gets sorted.
    const due: Array<[string, number]> = [];
    for (const [name, dueAt] of this.#due) if (dueAt <= now) due.push([name, dueAt]);
    const claimed = due
      .sort(([nameA, a], [nameB, b]) => a - b || (nameA < nameB ? -1 : 1))
      .slice(0, take)
      .map(([name]) => name);
    for (const name of claimed) this.#due.set(name, until);
    return claimed;
  }

  async nextDueAt(): Promise<number | undefined> {
    this.assertOpen();
    let earliest: number | undefined;
    for (const dueAt of this.#due.values()) if (earliest === undefined || dueAt < earliest) earliest = dueAt;
    return earliest;
  }

  async heartbeat(id: string, nowMs: number, ttlMs: number): Promise<void> {
    this.assertOpen();
    assertDaemonId(id);
    const now = checkEpochMs('nowMs', nowMs);
    this.#heartbeats.set(id, now + checkDurationMs('ttlMs', ttlMs));
    for (const [other, until] of this.#heartbeats) if (until <= now) this.#heartbeats.delete(other);
  }

  async liveDaemons(nowMs: number): Promise<string[]> {
    this.assertOpen();
    const now = checkEpochMs('nowMs', nowMs);
    return [...this.#heartbeats]
      .filter(([, until]) => until > now)
      .map(([id]) => id)
      .sort();
  }
}
