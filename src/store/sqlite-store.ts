/**
 * The default TokenStore: one SQLite file on better-sqlite3, shared safely by every
 * tokenkeeper process on the host (WAL mode, so a write is visible to the others as
 * soon as it commits; a busy timeout, so writers queue instead of failing).
 *
 * The file and the directory created for it are private to the user (0600 / 0700);
 * SQLite gives its -wal and -shm files the mode of the database file.
 */

import { chmodSync, closeSync, fstatSync, mkdirSync, openSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { type Clock, systemClock } from '../clock.js';
import { StoreError } from '../errors.js';
import { loadSqliteDriver, SQLITE_DRIVER_PACKAGE, sqliteDriverOptions } from './sqlite-driver.js';
import type { ConnectionMeta, StoredConnection, StoredConnectionMeta, TokenStore } from './types.js';
import {
  assertConnectionName,
  assertLockArguments,
  checkPut,
  closedError,
  toStoredMeta,
} from './validate.js';

export interface SqliteTokenStoreOptions {
  /** How long a write waits for another process's write to finish. Default 5000 ms. */
  busyTimeoutMs?: number;
  /** Measures lock leases (every process on the host shares the system clock). */
  clock?: Pick<Clock, 'now'>;
}

type Database = BetterSqlite3.Database;
type Statement = BetterSqlite3.Statement;

interface ConnectionRow {
  name: string;
  meta: string;
  sealed: string;
  version: number;
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
];

/** The schema this code reads and writes (PRAGMA user_version): one migration per version. */
export const SQLITE_SCHEMA_VERSION = MIGRATIONS.length;

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
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') {
    hint = 'another process kept the database busy too long; try again';
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
  }
  const detail = error instanceof Error ? error.message : String(error);
  const reason = code && !detail.includes(code) ? `${code}: ${detail}` : detail || code;
  return new StoreError(`SQLite store at ${location} failed to ${action} (${reason}): ${hint}.`, {
    cause: error,
  });
}

/** The default store: one SQLite file (WAL), shared by the processes of one host. */
export class SqliteTokenStore implements TokenStore {
  readonly kind = 'sqlite';
  readonly location: string;
  readonly #db: Database;
  readonly #clock: Pick<Clock, 'now'>;
  readonly #get: Statement;
  readonly #list: Statement;
  readonly #listMeta: Statement;
  readonly #currentVersion: Statement;
  readonly #upsert: Statement;
  readonly #deleteConnection: Statement;
  readonly #deleteLock: Statement;
  readonly #tryLock: Statement;
  readonly #unlock: Statement;
  readonly #put: (name: string, meta: string, sealed: string, expected: number | null) => number | undefined;
  readonly #delete: (name: string) => boolean;

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
      const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
      const deadline = Date.now() + busyTimeoutMs;
      const opened = new Driver(location, { timeout: busyTimeoutMs, ...sqliteDriverOptions() });
      db = opened;
      opened.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
      // Switching to WAL and migrating can meet SQLITE_BUSY without SQLite's busy handler
      // being consulted (several processes opening a new file at once): retry until the deadline.
      if (!inMemory) {
        await retryWhileBusy(deadline, () => {
          if (opened.pragma('journal_mode', { simple: true }) !== 'wal') opened.pragma('journal_mode = WAL');
        });
      }
      opened.pragma('synchronous = NORMAL');
      await retryWhileBusy(deadline, () => migrate(opened, location));
      return new SqliteTokenStore(opened, location, options);
    } catch (error) {
      db?.close();
      throw wrap(location, 'open', error);
    }
  }

  private constructor(db: Database, location: string, options: SqliteTokenStoreOptions) {
    this.#db = db;
    this.location = location;
    this.#clock = options.clock ?? systemClock;
    this.#get = db.prepare('SELECT name, meta, sealed, version FROM connections WHERE name = ?');
    this.#list = db.prepare('SELECT name, meta, sealed, version FROM connections ORDER BY name');
    this.#listMeta = db.prepare('SELECT name, meta, version FROM connections ORDER BY name');
    this.#currentVersion = db.prepare('SELECT version FROM connections WHERE name = ?').pluck();
    this.#upsert = db.prepare(
      `INSERT INTO connections (name, meta, sealed, version, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET meta = excluded.meta, sealed = excluded.sealed,
         version = excluded.version, updated_at = excluded.updated_at`,
    );
    this.#deleteConnection = db.prepare('DELETE FROM connections WHERE name = ?');
    this.#deleteLock = db.prepare('DELETE FROM locks WHERE name = ?');
    // One statement: takes the lock when absent, or when the current lease ran out.
    this.#tryLock = db.prepare(
      `INSERT INTO locks (name, owner, expires_at) VALUES (?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
       WHERE locks.expires_at <= ?`,
    );
    this.#unlock = db.prepare('DELETE FROM locks WHERE name = ? AND owner = ? RETURNING expires_at').pluck();

    const put = db.transaction((name: string, meta: string, sealed: string, expected: number | null) => {
      const current = (this.#currentVersion.get(name) as number | undefined) ?? 0;
      if (expected !== null && expected !== current) return undefined;
      const version = current + 1;
      this.#upsert.run(name, meta, sealed, version, this.#clock.now());
      return version;
    });
    // BEGIN IMMEDIATE: take the write lock before reading the version, so the compare
    // and the set happen with no other writer in between (and without deadlock-prone upgrades).
    this.#put = (name, meta, sealed, expected) => put.immediate(name, meta, sealed, expected);
    const remove = db.transaction((name: string) => {
      this.#deleteLock.run(name);
      return this.#deleteConnection.run(name).changes > 0;
    });
    this.#delete = (name) => remove.immediate(name);
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
    let row: ConnectionRow | undefined;
    try {
      row = this.#get.get(name) as ConnectionRow | undefined;
    } catch (error) {
      throw wrap(this.location, `read "${name}"`, error);
    }
    return row && this.#toStored(row);
  }

  async list(): Promise<StoredConnection[]> {
    this.#assertOpen();
    let rows: ConnectionRow[];
    try {
      rows = this.#list.all() as ConnectionRow[];
    } catch (error) {
      throw wrap(this.location, 'list connections', error);
    }
    return rows.map((row) => this.#toStored(row));
  }

  async listMeta(): Promise<StoredConnectionMeta[]> {
    this.#assertOpen();
    let rows: Array<Omit<ConnectionRow, 'sealed'>>;
    try {
      rows = this.#listMeta.all() as Array<Omit<ConnectionRow, 'sealed'>>;
    } catch (error) {
      throw wrap(this.location, 'list connections', error);
    }
    return rows.map((row) => toStoredMeta(row, this.location));
  }

  async put(
    name: string,
    meta: ConnectionMeta,
    sealed: string,
    expectedVersion: number | null,
  ): Promise<number | undefined> {
    this.#assertOpen();
    const metaJson = checkPut(name, meta, sealed, expectedVersion);
    try {
      return this.#put(name, metaJson, sealed, expectedVersion);
    } catch (error) {
      throw wrap(this.location, `write "${name}"`, error);
    }
  }

  async delete(name: string): Promise<boolean> {
    this.#assertOpen();
    assertConnectionName(name);
    try {
      return this.#delete(name);
    } catch (error) {
      throw wrap(this.location, `delete "${name}"`, error);
    }
  }

  async tryLock(name: string, owner: string, ttlMs: number): Promise<boolean> {
    this.#assertOpen();
    assertConnectionName(name);
    assertLockArguments(owner, ttlMs);
    const now = this.#clock.now();
    try {
      return this.#tryLock.run(name, owner, now + Math.ceil(ttlMs), now).changes === 1;
    } catch (error) {
      throw wrap(this.location, `lock "${name}"`, error);
    }
  }

  async unlock(name: string, owner: string): Promise<boolean> {
    this.#assertOpen();
    assertConnectionName(name);
    assertLockArguments(owner);
    try {
      const expiresAt = this.#unlock.get(name, owner) as number | undefined;
      // A lease that ran out was no longer held, even if nobody took it since.
      return expiresAt !== undefined && expiresAt > this.#clock.now();
    } catch (error) {
      throw wrap(this.location, `unlock "${name}"`, error);
    }
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }
}

function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}

async function retryWhileBusy(deadline: number, step: () => void): Promise<void> {
  for (;;) {
    try {
      step();
      return;
    } catch (error) {
      if (!isBusy(error) || Date.now() >= deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20));
    }
  }
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
