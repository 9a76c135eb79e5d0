/**
 * The due index of a SqliteTokenStore: a table of (name, due_at) in the same file, shared
 * by every process on the host. A claim reads and moves its entries in one IMMEDIATE
 * transaction, so two processes never claim the same entry.
 *
 * It is written without an fsync per commit (on the store's unsynced connection,
 * synchronous = NORMAL): every entry and heartbeat can be worked out again, since a daemon
 * schedules every row when it starts, so a power cut loses nothing that is not rebuilt.
 * An fsync per commit blocked the event loop about 3 ms on each schedule and claim: 16 s to
 * schedule 10,000 connections at a daemon's start.
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

/**
 * Runs one step against the database after the store's writes asked for before it, waiting
 * out another process's write lock, and turns its failures into StoreErrors that say what failed.
 */
export type SqliteGuard = <T>(action: string, step: () => T) => Promise<T>;

interface DueStatements {
  schedule: BetterSqlite3.Statement;
  unschedule: BetterSqlite3.Statement;
  next: BetterSqlite3.Statement;
  claim: (now: number, limit: number, until: number) => string[];
  heartbeat: (id: string, now: number, until: number) => void;
  live: BetterSqlite3.Statement;
}

export class SqliteDueIndex implements DueIndex {
  #statements: DueStatements | undefined;

  /** `connection`: the database written on, asked for on first use (only daemons use the index). */
  constructor(
    private readonly connection: () => BetterSqlite3.Database,
    private readonly guard: SqliteGuard,
  ) {}

  get #s(): DueStatements {
    this.#statements ??= prepare(this.connection());
    return this.#statements;
  }

  async scheduleDue(name: string, dueAtMs: number): Promise<void> {
    assertConnectionName(name);
    const dueAt = checkEpochMs('dueAtMs', dueAtMs);
    await this.guard(`schedule "${name}"`, () => this.#s.schedule.run(name, dueAt));
  }

  async unscheduleDue(name: string): Promise<void> {
    assertConnectionName(name);
    await this.guard(`unschedule "${name}"`, () => this.#s.unschedule.run(name));
  }

  async claimDue(nowMs: number, limit: number, leaseMs: number): Promise<string[]> {
    const now = checkEpochMs('nowMs', nowMs);
    const take = checkClaimLimit(limit);
    const until = now + checkDurationMs('leaseMs', leaseMs);
    return this.guard('claim due connections', () => this.#s.claim(now, take, until));
  }

  async nextDueAt(): Promise<number | undefined> {
    const next = await this.guard('read the next due time', () => this.#s.next.get() as number | null);
    return next ?? undefined;
  }

  async heartbeat(id: string, nowMs: number, ttlMs: number): Promise<void> {
    assertDaemonId(id);
    const now = checkEpochMs('nowMs', nowMs);
    const until = now + checkDurationMs('ttlMs', ttlMs);
    await this.guard('record a heartbeat', () => this.#s.heartbeat(id, now, until));
  }

  async liveDaemons(nowMs: number): Promise<string[]> {
    const now = checkEpochMs('nowMs', nowMs);
    return this.guard('list live daemons', () => this.#s.live.all(now) as string[]);
  }
}

function prepare(db: BetterSqlite3.Database): DueStatements {
  const schedule = db.prepare(
    'INSERT INTO due (name, due_at) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET due_at = excluded.due_at',
  );
  const unschedule = db.prepare('DELETE FROM due WHERE name = ?');
  const next = db.prepare('SELECT min(due_at) FROM due').pluck();
  const due = db.prepare('SELECT name FROM due WHERE due_at <= ? ORDER BY due_at, name LIMIT ?').pluck();
  const move = db.prepare('UPDATE due SET due_at = ? WHERE name = ?');
  const claim = db.transaction((now: number, limit: number, until: number) => {
    const names = due.all(now, limit) as string[];
    for (const name of names) move.run(until, name);
    return names;
  });
  const beat = db.prepare(
    'INSERT INTO daemons (id, expires_at) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at',
  );
  const forgetDead = db.prepare('DELETE FROM daemons WHERE expires_at <= ?');
  const heartbeat = db.transaction((id: string, now: number, until: number) => {
    beat.run(id, until);
    forgetDead.run(now);
  });
  const live = db.prepare('SELECT id FROM daemons WHERE expires_at > ? ORDER BY id').pluck();
  return {
    schedule,
    unschedule,
    next,
    // IMMEDIATE: the write lock is taken before reading, so no other process claims in between.
    claim: (now, limit, until) => claim.immediate(now, limit, until),
    heartbeat: (id, now, until) => heartbeat.immediate(id, now, until),
    live,
  };
}
