/**
 * The due index of a PostgresTokenStore: a table of (name, due_at) with an index on
 * due_at. A claim is the job-queue statement `UPDATE … WHERE name IN (SELECT … ORDER BY
 * due_at LIMIT n FOR UPDATE SKIP LOCKED)`: concurrent claimers skip each other's rows
 * instead of waiting for them, and never take the same one.
 */

import type { DueIndex } from './types.js';
import {
  assertConnectionName,
  assertDaemonId,
  checkClaimLimit,
  checkDurationMs,
  checkEpochMs,
} from './validate.js';

/** Runs one statement and returns its rows; failures come back as StoreErrors saying what failed. */
export type PostgresQuery = <R extends object>(
  action: string,
  text: string,
  values: unknown[],
) => Promise<R[]>;

/** The statements, on the store's (quoted, schema-qualified) tables. */
function dueSql(due: string, daemons: string) {
  return {
    schedule: `INSERT INTO ${due} (name, due_at) VALUES ($1, $2)
               ON CONFLICT (name) DO UPDATE SET due_at = excluded.due_at`,
    unschedule: `DELETE FROM ${due} WHERE name = $1`,
    // Ties in due_at are broken by name, so every backend claims in the same order.
    claim: `WITH picked AS (
              SELECT name, due_at FROM ${due} WHERE due_at <= $1
              ORDER BY due_at, name COLLATE "C" LIMIT $2 FOR UPDATE SKIP LOCKED)
            UPDATE ${due} d SET due_at = $3 FROM picked WHERE d.name = picked.name
            RETURNING d.name, picked.due_at AS was_due`,
    next: `SELECT min(due_at) AS next FROM ${due}`,
    heartbeat: `WITH forgotten AS (DELETE FROM ${daemons} WHERE expires_at <= $2 AND id <> $1)
                INSERT INTO ${daemons} (id, expires_at) VALUES ($1, $3)
                ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at`,
    live: `SELECT id FROM ${daemons} WHERE expires_at > $1 ORDER BY id COLLATE "C"`,
  };
}

export class PostgresDueIndex implements DueIndex {
  readonly #sql: ReturnType<typeof dueSql>;

  constructor(
    private readonly query: PostgresQuery,
    tables: { due: string; daemons: string },
  ) {
    this.#sql = dueSql(tables.due, tables.daemons);
  }

  async scheduleDue(name: string, dueAtMs: number): Promise<void> {
    assertConnectionName(name);
    await this.query(`schedule "${name}"`, this.#sql.schedule, [name, checkEpochMs('dueAtMs', dueAtMs)]);
  }

  async unscheduleDue(name: string): Promise<void> {
    assertConnectionName(name);
    await this.query(`unschedule "${name}"`, this.#sql.unschedule, [name]);
  }

  async claimDue(nowMs: number, limit: number, leaseMs: number): Promise<string[]> {
    const now = checkEpochMs('nowMs', nowMs);
    const take = checkClaimLimit(limit);
    const until = now + checkDurationMs('leaseMs', leaseMs);
    const rows = await this.query<{ name: string; was_due: string }>(
      'claim due connections',
      this.#sql.claim,
      [now, take, until],
    );
    // RETURNING has no order of its own: most overdue first, as the contract says.
    return rows
      .map((row) => ({ name: row.name, wasDue: Number(row.was_due) }))
      .sort((a, b) => a.wasDue - b.wasDue || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((row) => row.name);
  }

  async nextDueAt(): Promise<number | undefined> {
    const rows = await this.query<{ next: string | null }>('read the next due time', this.#sql.next, []);
    const next = rows[0]?.next;
    return next === null || next === undefined ? undefined : Number(next);
  }

  async heartbeat(id: string, nowMs: number, ttlMs: number): Promise<void> {
    assertDaemonId(id);
    const now = checkEpochMs('nowMs', nowMs);
    const until = now + checkDurationMs('ttlMs', ttlMs);
    await this.query('record a heartbeat', this.#sql.heartbeat, [id, now, until]);
  }

  async liveDaemons(nowMs: number): Promise<string[]> {
    const rows = await this.query<{ id: string }>('list live daemons', this.#sql.live, [
      checkEpochMs('nowMs', nowMs),
    ]);
    return rows.map((row) => row.id);
  }
}
