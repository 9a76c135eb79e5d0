/**
 * A TokenStore in PostgreSQL, for several hosts sharing connections. Every operation is
 * one statement (atomic on its own); lock leases are measured by the database's clock
 * (`now()`), so hosts whose clocks disagree still agree on who holds a lock. Writes and
 * deletes NOTIFY what they did from that statement, so it is announced when it commits
 * (watchChanges, postgres-changes.ts).
 */

import { createHash } from 'node:crypto';
import type { Client, Pool, PoolConfig } from 'pg';
import { ConfigError, StoreError } from '../errors.js';
import { didNotAnswer, STORE_COMMAND_TIMEOUT_MS, UNREACHABLE_CODES } from './deadlines.js';
import { FlexibleRateLimits } from './flexible-rate-limits.js';
import { listenForChanges } from './postgres-changes.js';
import { PostgresDueIndex } from './postgres-due-index.js';
import { redactConnectionUrl } from './redact-url.js';
import type {
  ChangeFeed,
  ConnectionMeta,
  StoreChange,
  StoredConnection,
  StoredConnectionMeta,
  TokenStore,
} from './types.js';
import {
  assertConnectionName,
  assertLockArguments,
  checkPut,
  closedError,
  toStoredMeta,
} from './validate.js';

/** The schema version this code reads and writes (kept in `<prefix>schema_version`). */
export const POSTGRES_SCHEMA_VERSION = 3;

/** How `PostgresTokenStore.connect` reaches the database, and where in it the tables live. */
export interface PostgresTokenStoreOptions {
  /** `postgres://user:password@host:port/database`; libpq query parameters (sslmode…) pass through to pg. */
  connectionString: string;
  /** Schema to keep the tables in (created if missing). Default: the connection's search_path. */
  schema?: string;
  /** Prefix of the table names. Default `tokenkeeper_`. */
  tablePrefix?: string;
  /** More pg Pool settings (max, ssl, timeouts…). */
  pool?: Omit<PoolConfig, 'connectionString'>;
}

const CONNECT_TIMEOUT_MS = 10_000;

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,39}$/;

function quoteIdentifier(identifier: string): string {
  return `"${identifier.replaceAll('"', '""')}"`;
}

interface ConnectionRow {
  name: string;
  meta: unknown;
  sealed: string;
  version: number;
}

interface Sql {
  /** Where writes NOTIFY their changes (see postgres-changes.ts). */
  channel: string;
  connections: string;
  locks: string;
  retired: string;
  due: string;
  daemons: string;
  /** rate-limiter-flexible's table, unquoted parts (it quotes them itself). */
  rateLimits: { schema: string | undefined; table: string };
  get: string;
  list: string;
  listMeta: string;
  insertNew: string;
  upsert: string;
  update: string;
  remove: string;
  tryLock: string;
  renewLock: string;
  unlock: string;
}

function buildSql(schema: string | undefined, prefix: string): Sql {
  const qualify = (table: string) =>
    schema === undefined ? quoteIdentifier(table) : `${quoteIdentifier(schema)}.${quoteIdentifier(table)}`;
  const connections = qualify(`${prefix}connections`);
  const locks = qualify(`${prefix}locks`);
  const retired = qualify(`${prefix}retired_versions`);
  const due = qualify(`${prefix}due`);
  const daemons = qualify(`${prefix}daemons`);
  // $fence: NULL, or the owner whose live lease the write requires (checked in the same statement).
  const fenced = (fence: string) =>
    `(${fence}::text IS NULL OR EXISTS (SELECT 1 FROM ${locks} WHERE name = $1 AND owner = ${fence} AND expires_at > now()))`;
  // A new row continues from the version its name had when it was last deleted.
  const firstVersion = `COALESCE((SELECT r.version FROM ${retired} r WHERE r.name = $1), 0) + 1`;
  // One channel per set of tables; a hex digest, so it is a valid identifier of any length.
  const channel = `tokenkeeper_${createHash('sha256')
    .update(`${schema ?? '(search_path)'}\u0000${prefix}`)
    .digest('hex')
    .slice(0, 24)}`;
  // Announces the rows of the CTE `written`, in the same statement: only when it commits.
  const announceWritten = (deleted: boolean) =>
    `SELECT version, pg_notify('${channel}', json_build_object('name', $1::text, 'version', version, 'deleted', ${deleted})::text)
     FROM written`;
  const announcing = (write: string) => `WITH written AS (${write}) ${announceWritten(false)}`;
  return {
    channel,
    connections,
    locks,
    retired,
    due,
    daemons,
    rateLimits: { schema, table: `${prefix}rate_limits` },
    get: `SELECT name, meta, sealed, version FROM ${connections} WHERE name = $1`,
    list: `SELECT name, meta, sealed, version FROM ${connections} ORDER BY name COLLATE "C"`,
    listMeta: `SELECT name, meta, version FROM ${connections} ORDER BY name COLLATE "C"`,
    insertNew: announcing(
      `INSERT INTO ${connections} AS c (name, meta, sealed, version, updated_at)
       SELECT $1, $2::json, $3, ${firstVersion}, now() WHERE ${fenced('$4')}
       ON CONFLICT (name) DO NOTHING RETURNING c.version`,
    ),
    upsert: announcing(
      `INSERT INTO ${connections} AS c (name, meta, sealed, version, updated_at)
       SELECT $1, $2::json, $3, ${firstVersion}, now() WHERE ${fenced('$4')}
       ON CONFLICT (name) DO UPDATE SET meta = excluded.meta, sealed = excluded.sealed,
         version = c.version + 1, updated_at = now()
       RETURNING c.version`,
    ),
    update: announcing(
      `UPDATE ${connections} SET meta = $2::json, sealed = $3, version = version + 1, updated_at = now()
       WHERE name = $1 AND version = $4 AND ${fenced('$5')} RETURNING version`,
    ),
    // Every delete sees the lock as it was before the statement: the fence holds for all or none.
    remove: `WITH dropped_lock AS (DELETE FROM ${locks} WHERE name = $1 AND ${fenced('$2')}),
               gone AS (DELETE FROM ${connections} WHERE name = $1 AND ${fenced('$2')} RETURNING version),
               dropped_due AS (DELETE FROM ${due} WHERE name = $1 AND EXISTS (SELECT 1 FROM gone)),
               written AS (
                 INSERT INTO ${retired} AS r (name, version) SELECT $1, version FROM gone
                 ON CONFLICT (name) DO UPDATE SET version = excluded.version
                 RETURNING r.version)
             ${announceWritten(true)}`,
    // Also true for the owner itself: a resent request finds its own lock.
    tryLock: `INSERT INTO ${locks} AS l (name, owner, expires_at)
              VALUES ($1, $2, now() + $3 * interval '1 millisecond')
              ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
              WHERE l.expires_at <= now() OR l.owner = excluded.owner
              RETURNING 1`,
    renewLock: `UPDATE ${locks} SET expires_at = now() + $3 * interval '1 millisecond'
                WHERE name = $1 AND owner = $2 RETURNING 1`,
    unlock: `DELETE FROM ${locks} WHERE name = $1 AND owner = $2 RETURNING expires_at > now() AS held`,
  };
}

function advisoryLockKey(scope: string): string {
  // A signed 64-bit integer derived from the schema, as pg_advisory_xact_lock wants.
  return createHash('sha256').update(`tokenkeeper schema ${scope}`).digest().readBigInt64BE(0).toString();
}

function wrap(location: string, action: string, error: unknown): StoreError {
  if (error instanceof StoreError || error instanceof ConfigError) return error;
  const code = (error as { code?: string }).code ?? '';
  const detail = error instanceof Error ? error.message : String(error);
  let hint = 'check that the server is up and reachable and that the user may use the database';
  let kind: StoreError['kind'] = UNREACHABLE_CODES.has(code) ? 'unreachable' : undefined;
  if (code === '28P01' || code === '28000') {
    [hint, kind] = ['check the user name and password in the store URL', 'unusable'];
  } else if (code === '3D000') {
    [hint, kind] = ['create the database, or fix its name in the store URL', 'unusable'];
  } else if (code === '42501') {
    [hint, kind] = [
      'grant the user CREATE and USAGE on the schema, or create the tables as an admin',
      'unusable',
    ];
  } else if (/Query read timeout/.test(detail)) {
    [hint, kind] = [didNotAnswer(), 'unreachable'];
  } else if (/timeout exceeded when trying to connect|connection timeout/.test(detail)) {
    [hint, kind] = [didNotAnswer(CONNECT_TIMEOUT_MS), 'unreachable'];
  }
  const reason = code && !detail.includes(code) ? `${code}: ${detail}` : detail || code;
  return new StoreError(`PostgreSQL store at ${location} failed to ${action} (${reason}): ${hint}.`, {
    cause: error,
    kind,
  });
}

/** A store in PostgreSQL, shared by many hosts (`postgres://…?schema=name`). */
export class PostgresTokenStore implements TokenStore {
  readonly kind = 'postgres';
  readonly location: string;
  readonly #pool: Pool;
  /** A connection outside the pool, for LISTEN (it stays open and cannot be shared). */
  readonly #newClient: () => Client;
  readonly #feeds = new Set<ChangeFeed>();
  readonly #sql: Sql;
  readonly dueIndex: PostgresDueIndex;
  readonly rateLimits: FlexibleRateLimits;
  #closed = false;

  /**
   * Connects, and creates the schema and tables if they are missing (several processes may
   * do so at once: a transaction-scoped advisory lock lets one of them at a time check).
   * `pg` is loaded here, on first use, so other backends never load it.
   */
  static async connect(options: PostgresTokenStoreOptions): Promise<PostgresTokenStore> {
    const location = redactConnectionUrl(options.connectionString);
    const prefix = options.tablePrefix ?? 'tokenkeeper_';
    if (options.schema !== undefined && !IDENTIFIER.test(options.schema)) {
      throw new ConfigError(
        `The PostgreSQL schema name ${JSON.stringify(options.schema)} is not allowed; use letters, digits and _ ` +
          '(at most 40 characters, not starting with a digit).',
      );
    }
    if (prefix !== '' && !IDENTIFIER.test(prefix)) {
      throw new ConfigError(
        `The table prefix ${JSON.stringify(prefix)} is not allowed; use letters, digits and _ ` +
          '(at most 40 characters, not starting with a digit).',
      );
    }
    let PoolClass: typeof Pool;
    let ClientClass: typeof Client;
    try {
      ({ Pool: PoolClass, Client: ClientClass } = await import('pg'));
    } catch (error) {
      throw new StoreError(
        'Cannot load the `pg` package for the PostgreSQL store; install it (`npm install pg`) next to tokenkeeper.',
        { cause: error },
      );
    }
    const config = {
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      // pg waits forever for an answer by default; a paused or cut-off server never sends one.
      query_timeout: STORE_COMMAND_TIMEOUT_MS,
      application_name: 'tokenkeeper',
      ...options.pool,
      connectionString: options.connectionString,
    };
    const pool = new PoolClass(config);
    // An idle client losing its connection must not crash the process; the next query reports it.
    pool.on('error', () => {});
    const sql = buildSql(options.schema, prefix);
    const store = new PostgresTokenStore(pool, () => new ClientClass(config), location, sql);
    try {
      await store.#migrate(options.schema, prefix);
    } catch (error) {
      await pool.end().catch(() => {});
      throw wrap(location, 'connect and prepare its tables', error);
    }
    return store;
  }

  private constructor(pool: Pool, newClient: () => Client, location: string, sql: Sql) {
    this.#pool = pool;
    this.#newClient = newClient;
    this.location = location;
    this.#sql = sql;
    this.dueIndex = new PostgresDueIndex((action, text, values) => this.#query(action, text, values), sql);
    // Windows are timed by each client's clock (rate-limiter-flexible writes Date.now()), so
    // the hosts must agree on the time, as the due index already requires.
    this.rateLimits = new FlexibleRateLimits(
      (flexible, { points, durationMs, insuranceLimiter }) =>
        new flexible.RateLimiterPostgres({
          storeClient: pool,
          storeType: 'pool',
          ...(sql.rateLimits.schema === undefined ? {} : { schemaName: sql.rateLimits.schema }),
          tableName: sql.rateLimits.table,
          tableCreated: true,
          clearExpiredByTimeout: false,
          keyPrefix: 'budget',
          points,
          duration: durationMs / 1000,
          insuranceLimiter,
        }),
    );
  }

  async #migrate(schema: string | undefined, prefix: string): Promise<void> {
    const versionTable =
      schema === undefined
        ? quoteIdentifier(`${prefix}schema_version`)
        : `${quoteIdentifier(schema)}.${quoteIdentifier(`${prefix}schema_version`)}`;
    const client = await this.#pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [
        advisoryLockKey(schema ?? '(search_path)'),
      ]);
      if (schema !== undefined) await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(schema)}`);
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${versionTable} (
           id integer PRIMARY KEY CHECK (id = 1),
           version integer NOT NULL
         )`,
      );
      await client.query(
        `INSERT INTO ${versionTable} (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING`,
      );
      const { rows } = await client.query<{ version: number }>(
        `SELECT version FROM ${versionTable} WHERE id = 1`,
      );
      const current = rows[0]?.version ?? 0;
      if (current > POSTGRES_SCHEMA_VERSION) {
        throw new StoreError(
          `The PostgreSQL store at ${this.location} has schema version ${current}, written by a newer ` +
            'tokenkeeper; upgrade tokenkeeper on this host to use it.',
        );
      }
      if (current < 1) {
        await client.query(
          `CREATE TABLE IF NOT EXISTS ${this.#sql.connections} (
             name text PRIMARY KEY,
             meta json NOT NULL,
             sealed text NOT NULL,
             version integer NOT NULL,
             updated_at timestamptz NOT NULL DEFAULT now()
           )`,
        );
        await client.query(
          `CREATE TABLE IF NOT EXISTS ${this.#sql.locks} (
             name text PRIMARY KEY,
             owner text NOT NULL,
             expires_at timestamptz NOT NULL
           )`,
        );
      }
      if (current < 2) {
        await client.query(
          `CREATE TABLE IF NOT EXISTS ${this.#sql.retired} (
             name text PRIMARY KEY,
             version integer NOT NULL
           )`,
        );
      }
      if (current < 3) {
        // The fleet's shared due index (postgres-due-index.ts), its daemons' heartbeats, and
        // rate-limiter-flexible's table for the shared client-side rate limits, in its shape.
        await client.query(
          `CREATE TABLE IF NOT EXISTS ${this.#sql.due} (
             name text PRIMARY KEY,
             due_at bigint NOT NULL
           )`,
        );
        await client.query(
          `CREATE INDEX IF NOT EXISTS ${quoteIdentifier(`${prefix}due_by_time`)} ON ${this.#sql.due} (due_at)`,
        );
        await client.query(
          `CREATE TABLE IF NOT EXISTS ${this.#sql.daemons} (
             id text PRIMARY KEY,
             expires_at bigint NOT NULL
           )`,
        );
        const { schema: limitsSchema, table: limitsTable } = this.#sql.rateLimits;
        const limits =
          limitsSchema === undefined
            ? quoteIdentifier(limitsTable)
            : `${quoteIdentifier(limitsSchema)}.${quoteIdentifier(limitsTable)}`;
        await client.query(
          `CREATE TABLE IF NOT EXISTS ${limits} (
             key varchar(255) PRIMARY KEY,
             points integer NOT NULL DEFAULT 0,
             expire bigint
           )`,
        );
      }
      if (current !== POSTGRES_SCHEMA_VERSION) {
        await client.query(`UPDATE ${versionTable} SET version = $1 WHERE id = 1`, [POSTGRES_SCHEMA_VERSION]);
      }
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  async #query<R extends object>(action: string, text: string, values: unknown[]): Promise<R[]> {
    if (this.#closed) throw closedError(this.kind, this.location);
    try {
      return (await this.#pool.query<R>(text, values)).rows;
    } catch (error) {
      throw wrap(this.location, action, error);
    }
  }

  #toStored(row: ConnectionRow): StoredConnection {
    return { ...toStoredMeta(row, this.location), sealed: row.sealed };
  }

  async get(name: string): Promise<StoredConnection | undefined> {
    assertConnectionName(name);
    const rows = await this.#query<ConnectionRow>(`read "${name}"`, this.#sql.get, [name]);
    return rows[0] && this.#toStored(rows[0]);
  }

  async list(): Promise<StoredConnection[]> {
    const rows = await this.#query<ConnectionRow>('list connections', this.#sql.list, []);
    return rows.map((row) => this.#toStored(row));
  }

  async listMeta(): Promise<StoredConnectionMeta[]> {
    const rows = await this.#query<Omit<ConnectionRow, 'sealed'>>('list connections', this.#sql.listMeta, []);
    return rows.map((row) => toStoredMeta(row, this.location));
  }

  async put(
    name: string,
    meta: ConnectionMeta,
    sealed: string,
    expectedVersion: number | null,
    fence?: string,
  ): Promise<number | undefined> {
    const metaJson = checkPut(name, meta, sealed, expectedVersion, fence);
    const action = `write "${name}"`;
    const owner = fence ?? null;
    let rows: { version: number }[];
    if (expectedVersion === null) {
      rows = await this.#query(action, this.#sql.upsert, [name, metaJson, sealed, owner]);
    } else if (expectedVersion === 0) {
      rows = await this.#query(action, this.#sql.insertNew, [name, metaJson, sealed, owner]);
    } else {
      rows = await this.#query(action, this.#sql.update, [name, metaJson, sealed, expectedVersion, owner]);
    }
    return rows[0]?.version;
  }

  async delete(name: string, fence?: string): Promise<boolean> {
    assertConnectionName(name);
    if (fence !== undefined) assertLockArguments(fence);
    const rows = await this.#query(`delete "${name}"`, this.#sql.remove, [name, fence ?? null]);
    return rows.length > 0;
  }

  async tryLock(name: string, owner: string, ttlMs: number): Promise<boolean> {
    assertConnectionName(name);
    assertLockArguments(owner, ttlMs);
    const rows = await this.#query(`lock "${name}"`, this.#sql.tryLock, [name, owner, Math.ceil(ttlMs)]);
    return rows.length === 1;
  }

  async renewLock(name: string, owner: string, ttlMs: number): Promise<boolean> {
    assertConnectionName(name);
    assertLockArguments(owner, ttlMs);
    const rows = await this.#query(`renew the lock of "${name}"`, this.#sql.renewLock, [
      name,
      owner,
      Math.ceil(ttlMs),
    ]);
    return rows.length === 1;
  }

  async unlock(name: string, owner: string): Promise<boolean> {
    assertConnectionName(name);
    assertLockArguments(owner);
    const rows = await this.#query<{ held: boolean }>(`unlock "${name}"`, this.#sql.unlock, [name, owner]);
    return rows[0]?.held === true;
  }

  async watchChanges(onChange: (change: StoreChange) => void, onMissed?: () => void): Promise<ChangeFeed> {
    if (this.#closed) throw closedError(this.kind, this.location);
    const channel = this.#sql.channel;
    const feed = await listenForChanges(
      this.#newClient,
      channel,
      onChange,
      onMissed ?? (() => undefined),
      (payload) =>
        this.#query('send an echo on the change feed', 'SELECT pg_notify($1, $2)', [channel, payload]).then(
          () => undefined,
        ),
    );
    this.#feeds.add(feed);
    return {
      echo: (withinMs) => feed.echo(withinMs),
      close: async () => {
        this.#feeds.delete(feed);
        await feed.close();
      },
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#feeds].map((feed) => feed.close()));
    // Bounded: a query in flight ends within its timeout, and its connection is dropped.
    await this.#pool.end();
  }
}
