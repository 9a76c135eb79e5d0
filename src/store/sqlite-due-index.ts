/**
 * The due index of a SqliteTokenStore: a table of (name, due_at) in the same file, shared
 * by every process on the host. A claim reads and moves its entries in one IMMEDIATE
 * transaction, so two processes never claim the same entry.
 */

import type BetterSqlite3 from 'better-sqlite3';
import type { DueIndex } from './types.js';
import {
  assertConnectionName,
  assertDaemonId,
  checkClaimLimit,
  checkDurationMs,
  checkEpochMs,
} from './validate.js';

/** Runs one step against the database, turning its failures into StoreErrors that say what failed. */
export type SqliteGuard = <T>(action: string, step: () => T) => T;

export class SqliteDueIndex implements DueIndex {
  readonly #schedule: BetterSqlite3.Statement;
  readonly #unschedule: BetterSqlite3.Statement;
  readonly #next: BetterSqlite3.Statement;
  readonly #claim: (now: number, limit: number, until: number) => string[];
  readonly #heartbeat: (id: string, now: number, until: number) => void;
  readonly #live: BetterSqlite3.Statement;

  constructor(
    db: BetterSqlite3.Database,
    private readonly guard: SqliteGuard,
  ) {
    this.#schedule = db.prepare(
      'INSERT INTO due (name, due_at) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET due_at = excluded.due_at',
    );
    this.#unschedule = db.prepare('DELETE FROM due WHERE name = ?');
    this.#next = db.prepare('SELECT min(due_at) FROM due').pluck();
    const due = db.prepare('SELECT name FROM due WHERE due_at <= ? ORDER BY due_at, name LIMIT ?').pluck();
    const move = db.prepare('UPDATE due SET due_at = ? WHERE name = ?');
    const claim = db.transaction((now: number, limit: number, until: number) => {
      const names = due.all(now, limit) as string[];
      for (const name of names) move.run(until, name);
      return names;
    });
    // IMMEDIATE: the write lock is taken before reading, so no other process claims in between.
    this.#claim = (now, limit, until) => claim.immediate(now, limit, until);
    const beat = db.prepare(
      'INSERT INTO daemons (id, expires_at) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at',
    );
    const forgetDead = db.prepare('DELETE FROM daemons WHERE expires_at <= ?');
    const heartbeat = db.transaction((id: string, now: number, until: number) => {
      beat.run(id, until);
      forgetDead.run(now);
    });
    this.#heartbeat = (id, now, until) => heartbeat.immediate(id, now, until);
    this.#live = db.prepare('SELECT id FROM daemons WHERE expires_at > ? ORDER BY id').pluck();
  }

  async scheduleDue(name: string, dueAtMs: number): Promise<void> {
    assertConnectionName(name);
    const dueAt = checkEpochMs('dueAtMs', dueAtMs);
    this.guard(`schedule "${name}"`, () => this.#schedule.run(name, dueAt));
  }

  async unscheduleDue(name: string): Promise<void> {
    assertConnectionName(name);
    this.guard(`unschedule "${name}"`, () => this.#unschedule.run(name));
  }

  async claimDue(nowMs: number, limit: number, leaseMs: number): Promise<string[]> {
    const now = checkEpochMs('nowMs', nowMs);
    const take = checkClaimLimit(limit);
    const until = now + checkDurationMs('leaseMs', leaseMs);
    return this.guard('claim due connections', () => this.#claim(now, take, until));
  }

  async nextDueAt(): Promise<number | undefined> {
    const next = this.guard('read the next due time', () => this.#next.get() as number | null);
    return next ?? undefined;
  }

  async heartbeat(id: string, nowMs: number, ttlMs: number): Promise<void> {
    assertDaemonId(id);
    const now = checkEpochMs('nowMs', nowMs);
    const until = now + checkDurationMs('ttlMs', ttlMs);
    this.guard('record a heartbeat', () => this.#heartbeat(id, now, until));
  }

  async liveDaemons(nowMs: number): Promise<string[]> {
    const now = checkEpochMs('nowMs', nowMs);
    return this.guard('list live daemons', () => this.#live.all(now) as string[]);
  }
}
