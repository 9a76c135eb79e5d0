/**
 * The default TokenStore: one SQLite file on better-sqlite3, shared safely by every
 * tokenkeeper process on the host (WAL mode, so a write is visible to the others as
 * soon as it commits; a busy timeout, so writers queue instead of failing).
 *
 * better-sqlite3 is synchronous: SQLite's own busy handler sleeps on the event loop. So it
 * gets a few milliseconds only (BUSY_SLICE_MS), and a write that finds the database busy
 * for longer waits on timers and tries again until its busy timeout: another process
 * holding the write lock for seconds delays this one's writes, not its event loop (a
 * daemon's /token, its proxy, its other refreshes).
 *
 * The file and the directory created for it are private to the user (0600 / 0700);
 * SQLite gives its -wal and -shm files the mode of the database file.
 */

import { chmodSync, closeSync, fstatSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { uptime } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { setImmediate } from 'node:timers/promises';
import type BetterSqlite3 from 'better-sqlite3';
import { type Clock, systemClock } from '../clock.js';
import { StoreError } from '../errors.js';
import { type BudgetLimiter, FlexibleRateLimits } from './flexible-rate-limits.js';
import { GroupCommit } from './group-commit.js';
import { CHANGE_LOG_MIGRATION, watchChangeLog } from './sqlite-changes.js';
import { loadSqliteDriver, SQLITE_DRIVER_PACKAGE, sqliteDriverOptions } from './sqlite-driver.js';
import { SqliteDueIndex } from './sqlite-due-index.js';
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

/** Settings of `SqliteTokenStore.open` beyond the file's path. */
export interface SqliteTokenStoreOptions {
  /**
   * How long a write waits for another process's write to finish. Default 5000 ms. The wait
   * does not block the event loop but for BUSY_SLICE_MS at a time.
   */
  busyTimeoutMs?: number;
  /** Measures lock leases (every process on the host shares the system clock). */
  clock?: Pick<Clock, 'now'>;
}

/**
 * How long SQLite's busy handler may sleep on the event loop in one try: long enough for
 * the commits of the host's other tokenkeeper processes (an fsync, a few ms) to end within
 * it, short enough that a lock held for seconds costs other work no more than this.
 */
export const BUSY_SLICE_MS = 5;

const DEFAULT_BUSY_TIMEOUT_MS = 5000;

type Database = BetterSqlite3.Database;
type Statement = BetterSqlite3.Statement;

interface ConnectionRow {
  name: string;
  meta: string;
  sealed: string;
  version: number;
}

interface LockRow {
  owner: string;
  expires_at: number;
  pid: number | null;
  boot_id: string | null;
}

/** Identifies this boot of this host: a pid is only meaningful within it. */
const BOOT_ID = (() => {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    // Not Linux: the boot time, to the minute, tells boots apart well enough.
    return `boot-${Math.round((Date.now() - uptime() * 1000) / 60_000)}`;
  }
})();

/** Whether the process `pid` of this host is still running. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isZombie(pid);
}

/** A killed process stays in the table as a zombie until its parent reaps it; it runs no more. */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (command) state ...": the command may contain spaces and parentheses.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return false; // no /proc (not Linux): signal 0 is all we know
  }
}

const MIGRATIONS: readonly string[] = [
  // 0 → 1
  `CREATE TABLE IF NOT EXISTS connections (
     name TEXT PRIMARY KEY NOT NULL,
     meta TEXT NOT NULL,
     sealed TEXT NOT NULL,
     version INTEGER NOT NULL,
     updated_at INTEGER NOT NULL
   );
   CREATE TABLE IF NOT EXISTS locks (
     name TEXT PRIMARY KEY NOT NULL,
     owner TEXT NOT NULL,
     expires_at INTEGER NOT NULL
   );`,
  // 1 → 2: lock rows name their holder's process, so a dead holder on this host is taken
  // over at once; deleted names keep their last version, so versions never restart.
  `ALTER TABLE locks ADD COLUMN pid INTEGER;
   ALTER TABLE locks ADD COLUMN boot_id TEXT;
   CREATE TABLE IF NOT EXISTS retired_versions (
     name TEXT PRIMARY KEY NOT NULL,
     version INTEGER NOT NULL
   );`,
  // 2 → 3: the shared due index of a fleet (sqlite-due-index.ts), and rate-limiter-flexible's
  // table (in its own shape) for the client-side rate limits the host's processes share.
  `CREATE TABLE IF NOT EXISTS due (
     name TEXT PRIMARY KEY NOT NULL,
     due_at INTEGER NOT NULL
   );
   CREATE INDEX IF NOT EXISTS due_by_time ON due (due_at, name);
   CREATE TABLE IF NOT EXISTS daemons (
     id TEXT PRIMARY KEY NOT NULL,
     expires_at INTEGER NOT NULL
   );
   CREATE TABLE IF NOT EXISTS rate_limits (
     key TEXT PRIMARY KEY,
     points INTEGER NOT NULL DEFAULT 0,
     expire INTEGER
   );`,
  // 3 → 4: the log of changes that watchChanges reads (sqlite-changes.ts).
  CHANGE_LOG_MIGRATION,
];

/** The schema this code reads and writes (PRAGMA user_version): one migration per version. */
export const SQLITE_SCHEMA_VERSION = MIGRATIONS.length;

/** Rows read at a time by list() and listMeta(): a few ms of work between turns of the event loop. */
export const SQLITE_LIST_PAGE_ROWS = 2_000;

function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}

const posix = process.platform !== 'win32';

/** Creates the missing directories of `dir` with mode 0700; leaves existing ones alone. */
function createPrivateDirectory(dir: string): void {
  const first = mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (first === undefined || !posix) return;
  // mkdir's mode is filtered by the umask; set it exactly on every directory we created.
  let current = resolve(first);
  const target = resolve(dir);
  chmodSync(current, 0o700);
  for (const part of relative(current, target).split(sep).filter(Boolean)) {
    current = join(current, part);
    chmodSync(current, 0o700);
  }
}

/** Creates the database file with mode 0600 if it does not exist yet, before SQLite opens it. */
function createPrivateFile(path: string): void {
  let fd: number;
  try {
    // O_EXCL: only the process that creates the file sets its mode.
    fd = openSync(path, 'wx', 0o600);
  } catch (error) {
    if (isErrno(error, 'EEXIST')) return;
    throw error;
  }
  try {
    if (posix && (fstatSync(fd).mode & 0o777) !== 0o600) chmodSync(path, 0o600);
  } finally {
    closeSync(fd);
  }
}

function wrap(location: string, action: string, error: unknown): StoreError {
  if (error instanceof StoreError) return error;
  const code = (error as { code?: string }).code ?? '';
  let hint = 'check the file and try again';
  // A busy database is worth trying again; every other failure known here is about the file.
  let kind: StoreError['kind'] = 'unusable';
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') {
    [hint, kind] = ['another process kept the database busy too long; try again', undefined];
  } else if (
    code.startsWith('SQLITE_READONLY') ||
    code === 'SQLITE_CANTOPEN' ||
    code === 'EACCES' ||
    code === 'EPERM'
  ) {
    hint = 'check that you own the file and its directory and can write to them';
  } else if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
    hint =
      'the file is not a tokenkeeper database or is damaged; point TOKENKEEPER_STORE elsewhere or restore it';
  } else if (code === 'SQLITE_FULL' || code === 'ENOSPC') {
    hint = 'the disk is full; free some space';
  } else {
    kind = undefined;
  }
  const detail = error instanceof Error ? error.message : String(error);
  const reason = code && !detail.includes(code) ? `${code}: ${detail}` : detail || code;
  return new StoreError(`SQLite store at ${location} failed to ${action} (${reason}): ${hint}.`, {
    cause: error,
    kind,
  });
}

/** A connection write waiting for its commit. */
interface PendingPut {
  name: string;
  meta: string;
  sealed: string;
  expected: number | null;
  fence: string | undefined;
}

const READ_LOCK = 'SELECT owner, expires_at, pid, boot_id FROM locks WHERE name = ?';

interface LockStatements {
  tryLock(name: string, owner: string, ttlMs: number): boolean;
  renew: Statement;
  unlock: Statement;
}

/** Refresh locks, written on the unsynced connection: a lock needs no fsync (see open()). */
function prepareLocks(db: Database, clock: Pick<Clock, 'now'>): LockStatements {
  const readLock = db.prepare(READ_LOCK);
  const writeLock = db.prepare(
    `INSERT INTO locks (name, owner, expires_at, pid, boot_id) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at,
       pid = excluded.pid, boot_id = excluded.boot_id`,
  );
  const tryLock = db.transaction((name: string, owner: string, ttlMs: number) => {
    const now = clock.now();
    const lock = readLock.get(name) as LockRow | undefined;
    const free =
      lock === undefined ||
      lock.expires_at <= now ||
      lock.owner === owner ||
      // Its holder died on this host: no need to wait out the lease.
      (lock.boot_id === BOOT_ID && lock.pid !== null && lock.pid !== process.pid && !isAlive(lock.pid));
    if (!free) return false;
    writeLock.run(name, owner, now + Math.ceil(ttlMs), process.pid, BOOT_ID);
    return true;
  });
  return {
    tryLock: (name, owner, ttlMs) => tryLock.immediate(name, owner, ttlMs),
    renew: db.prepare('UPDATE locks SET expires_at = ? WHERE name = ? AND owner = ?'),
    unlock: db.prepare('DELETE FROM locks WHERE name = ? AND owner = ? RETURNING expires_at').pluck(),
  };
}

/** The default store: one SQLite file (WAL), shared by the processes of one host. */
export class SqliteTokenStore implements TokenStore {
  readonly kind = 'sqlite';
  readonly location: string;
  readonly #db: Database;
  readonly #clock: Pick<Clock, 'now'>;
  readonly #busyTimeoutMs: number;
  /** The last write asked for: the next one runs after it (#writingInOrder). */
  #writes: Promise<unknown> = Promise.resolve();
  readonly #get: Statement;
  readonly #list: Statement;
  readonly #listMeta: Statement;
  readonly #currentVersion: Statement;
  readonly #upsert: Statement;
  /** Writes of connections, committed together when they arrive together (see group-commit.ts). */
  readonly #puts: GroupCommit<PendingPut, number | undefined>;
  readonly #delete: (name: string, fence: string | undefined) => boolean;
  readonly dueIndex: SqliteDueIndex;
  readonly rateLimits: FlexibleRateLimits;
  /** The second connection, committing without an fsync: see open(). */
  #unsynced: Database | undefined;
  readonly #openUnsynced: () => Database;
  #locks: LockStatements | undefined;
  readonly #feeds = new Set<ChangeFeed>();

  /**
   * Opens (creating if needed) the database at `path`. better-sqlite3 is loaded here, on
   * first use, so processes that use another backend never load the native module.
   */
  static async open(path: string, options: SqliteTokenStoreOptions = {}): Promise<SqliteTokenStore> {
    const inMemory = path === ':memory:';
    const location = inMemory ? path : resolve(path);
    let Driver: typeof BetterSqlite3;
    try {
      Driver = await loadSqliteDriver();
    } catch (error) {
      throw new StoreError(
        `Cannot load ${SQLITE_DRIVER_PACKAGE} for the SQLite store; reinstall tokenkeeper (\`npm install\`) so its native ` +
          'module is built for this Node.js, or choose another store with TOKENKEEPER_STORE.',
        { cause: error },
      );
    }
    let db: Database | undefined;
    try {
      if (!inMemory) {
        createPrivateDirectory(dirname(location));
        createPrivateFile(location);
      }
      const deadline = Date.now() + busyTimeoutOf(options);
      const opened = openConnection(Driver, location);
      db = opened;
      // Switching to WAL and migrating can meet SQLITE_BUSY without SQLite's busy handler
      // being consulted (several processes opening a new file at once): retry until the deadline.
      if (!inMemory) {
        await retryWhileBusy(deadline, () => {
          if (opened.pragma('journal_mode', { simple: true }) !== 'wal') opened.pragma('journal_mode = WAL');
        });
      }
      // FULL: a committed rotation survives a power loss (NORMAL in WAL mode may lose the last commits).
      opened.pragma('synchronous = FULL');
      await retryWhileBusy(deadline, () => migrate(opened, location));
      // What no power cut can make wrong gets a second connection, without an fsync per commit:
      // refresh locks (a power cut ends every holder too), rate-limit counters and the due index
      // (both can start afresh). A commit there becomes durable with the next synced commit,
      // which writes the same WAL. Opened on first use: a process that only reads never opens it.
      const openUnsynced = inMemory
        ? () => opened
        : () => {
            const unsynced = openConnection(Driver, location);
            // NORMAL in WAL mode: no fsync per commit, yet checkpoints sync, so the file stays sound.
            unsynced.pragma('synchronous = NORMAL');
            return unsynced;
          };
      return new SqliteTokenStore(opened, location, options, openUnsynced);
    } catch (error) {
      db?.close();
      throw wrap(location, 'open', error);
    }
  }

  private constructor(
    db: Database,
    location: string,
    options: SqliteTokenStoreOptions,
    openUnsynced: () => Database,
  ) {
    this.#db = db;
    this.#openUnsynced = openUnsynced;
    this.location = location;
    this.#clock = options.clock ?? systemClock;
    this.#busyTimeoutMs = busyTimeoutOf(options);
    this.#get = db.prepare('SELECT name, meta, sealed, version FROM connections WHERE name = ?');
    // Pages in name order (the primary key): rows after a name, at most a page of them.
    this.#list = db.prepare(
      'SELECT name, meta, sealed, version FROM connections WHERE name > ? ORDER BY name LIMIT ?',
    );
    this.#listMeta = db.prepare(
      'SELECT name, meta, version FROM connections WHERE name > ? ORDER BY name LIMIT ?',
    );
    this.#currentVersion = db.prepare('SELECT version FROM connections WHERE name = ?').pluck();
    this.#upsert = db.prepare(
      `INSERT INTO connections (name, meta, sealed, version, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET meta = excluded.meta, sealed = excluded.sealed,
         version = excluded.version, updated_at = excluded.updated_at`,
    );
    const deleteConnection = db.prepare('DELETE FROM connections WHERE name = ? RETURNING version').pluck();
    const deleteLock = db.prepare('DELETE FROM locks WHERE name = ?');
    const deleteDue = db.prepare('DELETE FROM due WHERE name = ?');
    const retiredVersion = db.prepare('SELECT version FROM retired_versions WHERE name = ?').pluck();
    const retire = db.prepare(
      `INSERT INTO retired_versions (name, version) VALUES (?, ?)
       ON CONFLICT (name) DO UPDATE SET version = excluded.version`,
    );
    const unretire = db.prepare('DELETE FROM retired_versions WHERE name = ?');
    const readLock = db.prepare(READ_LOCK);

    const holds = (name: string, owner: string) => {
      const lock = readLock.get(name) as LockRow | undefined;
      return lock !== undefined && lock.owner === owner && lock.expires_at > this.#clock.now();
    };
    const putOne = ({ name, meta, sealed, expected, fence }: PendingPut): number | undefined => {
      if (fence !== undefined && !holds(name, fence)) return undefined;
      const current = this.#currentVersion.get(name) as number | undefined;
      if (expected !== null && expected !== (current ?? 0)) return undefined;
      const version = (current ?? (retiredVersion.get(name) as number | undefined) ?? 0) + 1;
      this.#upsert.run(name, meta, sealed, version, this.#clock.now());
      if (current === undefined) unretire.run(name);
      return version;
    };
    const put = db.transaction(putOne);
    const putAll = db.transaction((batch: readonly PendingPut[]) => batch.map(putOne));
    // BEGIN IMMEDIATE: take the write lock before reading the version, so the compare
    // and the set happen with no other writer in between (and without deadlock-prone upgrades).
    // Each compare-and-set is checked on its own, also inside a shared commit.
    // A batch still busy at its deadline would be as busy for each of its writes alone.
    this.#puts = new GroupCommit(
      (batch) => this.#writingInOrder(() => putAll.immediate(batch)),
      (write) => this.#writingInOrder(() => put.immediate(write)),
      (error) => !isBusy(error),
    );
    const remove = db.transaction((name: string, fence: string | undefined) => {
      if (fence !== undefined && !holds(name, fence)) return false;
      deleteLock.run(name);
      deleteDue.run(name);
      const version = deleteConnection.get(name) as number | undefined;
      if (version === undefined) return false;
      retire.run(name, version);
      return true;
    });
    this.#delete = (name, fence) => remove.immediate(name, fence);
    this.dueIndex = new SqliteDueIndex(
      () => this.#unsyncedConnection(),
      (action, step) => this.#writing(action, step),
    );
    // One upsert per request, atomic under SQLite's write lock: the host's processes share it.
    // Committed without an fsync (synchronous = NORMAL on its own connection): 3 ms less per API
    // request, and a counter lost to a power cut only lets one window start afresh.
    // The insurance limiter is applied here, not by rate-limiter-flexible, so that a busy
    // database is waited out like any other write before this process counts on its own.
    this.rateLimits = new FlexibleRateLimits((flexible, { points, durationMs, insuranceLimiter }) =>
      insuredAfterBusy(
        new flexible.RateLimiterSQLite({
          storeClient: this.#unsyncedConnection(),
          storeType: 'better-sqlite3',
          tableName: 'rate_limits',
          tableCreated: true,
          clearExpiredByTimeout: false,
          keyPrefix: 'budget',
          points,
          duration: durationMs / 1000,
        }),
        insuranceLimiter,
        (step) => this.#writingInOrder(step),
      ),
    );
  }

  #unsyncedConnection(): Database {
    this.#assertOpen();
    this.#unsynced ??= this.#openUnsynced();
    return this.#unsynced;
  }

  #lockStatements(): LockStatements {
    this.#locks ??= prepareLocks(this.#unsyncedConnection(), this.#clock);
    return this.#locks;
  }

  /** Runs `step` on the open database until it does not find it busy, within the busy timeout. */
  #retryingWhileBusy<T>(step: () => T | Promise<T>, deadline = Date.now() + this.#busyTimeoutMs): Promise<T> {
    return retryWhileBusy(deadline, () => {
      this.#assertOpen();
      return step();
    });
  }

  /**
   * A write step, run after the writes asked for before it: one that waits out a busy file
   * keeps its place, so this process's writes still land in the order it asked for them (a
   * renewal before the release of the same lock). Its busy timeout counts from now, not from
   * its turn, so writes queued behind a lock held for good fail with it, not one by one.
   */
  #writingInOrder<T>(step: () => T | Promise<T>): Promise<T> {
    const deadline = Date.now() + this.#busyTimeoutMs;
    const written = this.#writes.then(() => this.#retryingWhileBusy(step, deadline));
    this.#writes = written.catch(() => {});
    return written;
  }

  /** A write (#writingInOrder), with a failure turned into a StoreError that says what `action` was. */
  #writing<T>(action: string, step: () => T): Promise<T> {
    return this.#failingAs(action, this.#writingInOrder(step));
  }

  /** A read: WAL lets it go on beside another process's write, so it waits behind no write of ours. */
  #reading<T>(action: string, step: () => T): Promise<T> {
    return this.#failingAs(action, this.#retryingWhileBusy(step));
  }

  async #failingAs<T>(action: string, wait: Promise<T>): Promise<T> {
    try {
      return await wait;
    } catch (error) {
      throw wrap(this.location, action, error);
    }
  }

  #assertOpen(): void {
    if (!this.#db.open) throw closedError(this.kind, this.location);
  }

  #toStored(row: ConnectionRow): StoredConnection {
    return { ...toStoredMeta(row, this.location), sealed: row.sealed };
  }

  async get(name: string): Promise<StoredConnection | undefined> {
    this.#assertOpen();
    assertConnectionName(name);
    const row = await this.#reading(`read "${name}"`, () => this.#get.get(name) as ConnectionRow | undefined);
    return row && this.#toStored(row);
  }

  async list(): Promise<StoredConnection[]> {
    return this.#listInPages(this.#list, (row: ConnectionRow) => this.#toStored(row));
  }

  async listMeta(): Promise<StoredConnectionMeta[]> {
    return this.#listInPages(this.#listMeta, (row: Omit<ConnectionRow, 'sealed'>) =>
      toStoredMeta(row, this.location),
    );
  }

  /**
   * Every row, in name order, read a page at a time with a turn of the event loop between
   * pages: the driver is synchronous, and 100,000 rows read at once would stall this
   * process (a daemon's /token, its refreshes) for a few hundred ms on every watch tick.
   * Not one snapshot: a row written meanwhile is seen before or after its write.
   */
  async #listInPages<Row extends { name: string }, T>(
    page: Statement,
    convert: (row: Row) => T,
  ): Promise<T[]> {
    const result: T[] = [];
    let after = '';
    for (;;) {
      const rows = await this.#reading(
        'list connections',
        () => page.all(after, SQLITE_LIST_PAGE_ROWS) as Row[],
      );
      for (const row of rows) result.push(convert(row));
      if (rows.length < SQLITE_LIST_PAGE_ROWS) return result;
      after = (rows.at(-1) as Row).name;
      await setImmediate();
    }
  }

  async put(
    name: string,
    meta: ConnectionMeta,
    sealed: string,
    expectedVersion: number | null,
    fence?: string,
  ): Promise<number | undefined> {
    this.#assertOpen();
    const metaJson = checkPut(name, meta, sealed, expectedVersion, fence);
    try {
      return await this.#puts.submit({ name, meta: metaJson, sealed, expected: expectedVersion, fence });
    } catch (error) {
      throw wrap(this.location, `write "${name}"`, error);
    }
  }

  async delete(name: string, fence?: string): Promise<boolean> {
    this.#assertOpen();
    assertConnectionName(name);
    if (fence !== undefined) assertLockArguments(fence);
    await this.#puts.flush(); // a write asked for before this delete lands before it
    return this.#writing(`delete "${name}"`, () => this.#delete(name, fence));
  }

  async tryLock(name: string, owner: string, ttlMs: number): Promise<boolean> {
    this.#assertOpen();
    assertConnectionName(name);
    assertLockArguments(owner, ttlMs);
    return this.#writing(`lock "${name}"`, () => this.#lockStatements().tryLock(name, owner, ttlMs));
  }

  async renewLock(name: string, owner: string, ttlMs: number): Promise<boolean> {
    this.#assertOpen();
    assertConnectionName(name);
    assertLockArguments(owner, ttlMs);
    return this.#writing(
      `renew the lock of "${name}"`,
      () => this.#lockStatements().renew.run(this.#clock.now() + Math.ceil(ttlMs), name, owner).changes === 1,
    );
  }

  async unlock(name: string, owner: string): Promise<boolean> {
    this.#assertOpen();
    assertConnectionName(name);
    assertLockArguments(owner);
    const expiresAt = await this.#writing(
      `unlock "${name}"`,
      () => this.#lockStatements().unlock.get(name, owner) as number | undefined,
    );
    // A lease that ran out was no longer held, even if nobody took it since.
    return expiresAt !== undefined && expiresAt > this.#clock.now();
  }

  /** Reads the file's log of changes a few times a second (sqlite-changes.ts). */
  async watchChanges(onChange: (change: StoreChange) => void, onMissed?: () => void): Promise<ChangeFeed> {
    this.#assertOpen();
    const feed = watchChangeLog(this.#db, onChange, onMissed, (closed) => this.#feeds.delete(closed));
    this.#feeds.add(feed);
    return feed;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#feeds].map((feed) => feed.close()));
    // What was asked for before closing lands first, a write waiting out a busy file included.
    if (this.#db.open) {
      await this.#puts.flush();
      await this.#writes;
    }
    if (this.#unsynced?.open && this.#unsynced !== this.#db) this.#unsynced.close();
    if (this.#db.open) this.#db.close();
  }
}

function busyTimeoutOf(options: SqliteTokenStoreOptions): number {
  return Math.max(0, Math.floor(options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS));
}

/** A connection whose busy handler sleeps BUSY_SLICE_MS at most: the rest of a wait is retryWhileBusy's. */
function openConnection(Driver: typeof BetterSqlite3, location: string): Database {
  // The driver's timeout is SQLite's busy_timeout.
  return new Driver(location, { timeout: BUSY_SLICE_MS, ...sqliteDriverOptions() });
}

function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}

/**
 * Runs `step` until it does not find the database busy, or until `deadline` (epoch ms),
 * waiting on a timer between tries so the event loop goes on meanwhile. A busy step has
 * changed nothing (its transaction was rolled back), so trying it again is safe.
 */
async function retryWhileBusy<T>(deadline: number, step: () => T | Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await step();
    } catch (error) {
      if (!isBusy(error) || Date.now() >= deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 2 + Math.random() * 8));
    }
  }
}

/** A limiter of the host's shared budgets that counts alone only once the database stayed busy or failed. */
function insuredAfterBusy(
  shared: BudgetLimiter,
  insurance: BudgetLimiter,
  writingInOrder: <T>(step: () => Promise<T>) => Promise<T>,
): BudgetLimiter {
  const insured = async <T>(call: (limiter: BudgetLimiter) => Promise<T>): Promise<T> => {
    try {
      return await writingInOrder(() => call(shared));
    } catch (outcome) {
      // A RateLimiterRes is the answer "over the limit", not a failure.
      if (outcome instanceof Error) return call(insurance);
      throw outcome;
    }
  };
  return {
    consume: (key, points) => insured((limiter) => limiter.consume(key, points)),
    block: (key, seconds) => insured((limiter) => limiter.block(key, seconds)),
  };
}

function migrate(db: Database, location: string): void {
  // Most opens find the schema current: check without taking the write lock first.
  if ((db.pragma('user_version', { simple: true }) as number) === SQLITE_SCHEMA_VERSION) return;
  const run = db.transaction(() => {
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current > MIGRATIONS.length) {
      throw new StoreError(
        `The SQLite store at ${location} has schema version ${current}, written by a newer tokenkeeper; ` +
          'upgrade tokenkeeper to use it.',
      );
    }
    for (let version = current; version < MIGRATIONS.length; version++) {
      db.exec(MIGRATIONS[version]!);
    }
    if (current !== MIGRATIONS.length) db.pragma(`user_version = ${MIGRATIONS.length}`);
  });
  run.immediate();
}
