/**
 * From a location string (what TOKENKEEPER_STORE or --store holds) to an open store and
 * the SecretBox that seals its secrets.
 *
 *   (nothing)                      SQLite in the user's data directory, key file beside it
 *   memory:                        in this process only; a random key unless TOKENKEEPER_KEY
 *   ./path/to.db, sqlite:…, file:… SQLite there, key file beside it (`<name>.key`)
 *   postgres://…, postgresql://…   PostgreSQL (`?schema=name` keeps the tables in that schema)
 *   redis://…, rediss://…          Redis (`?prefix=name:` sets the key prefix); a node of a
 *                                  Redis Cluster stands for its cluster (redis-connect.ts)
 *
 * The key a caller passes (`encryptionKey`) wins, for every kind of store; else
 * TOKENKEEPER_KEY; else, for SQLite only, the key file. Remote stores are shared by several
 * hosts, which must all use the same key, so they never fall back to a key file.
 * `previousEncryptionKeys`, else TOKENKEEPER_PREVIOUS_KEYS, lists keys that only open (a key
 * rotation under way), for every kind of store. Drivers are imported on demand, so choosing
 * one backend never loads the others.
 */

import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { homedir as osHomedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, TokenkeeperError } from '../errors.js';
import { shellWord } from '../shell-word.js';
import {
  createSecretBox,
  ENCRYPTION_KEY_BYTES,
  parseEncryptionKey,
  parseKeyListOption,
  parseKeyOption,
  parsePreviousEncryptionKeys,
  resolveEncryptionKey,
  type SecretBox,
  sealedKeyId,
} from './encryption.js';
import type { TokenStore } from './types.js';

export const DEFAULT_DATABASE_NAME = 'tokenkeeper.db';

export interface DataDirOptions {
  env?: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
  homedir?: string;
}

/**
 * Where tokenkeeper keeps its data by default: `$XDG_DATA_HOME/tokenkeeper` or
 * `~/.local/share/tokenkeeper` (Linux and other Unix), `~/Library/Application Support/tokenkeeper`
 * (macOS), `%LOCALAPPDATA%\tokenkeeper` (Windows).
 */
export function defaultDataDir(options: DataDirOptions = {}): string {
  const env = options.env ?? process.env;
  const platform = options.platform ?? process.platform;
  const home = options.homedir ?? osHomedir();
  if (platform === 'win32') {
    const localAppData = env.LOCALAPPDATA;
    if (localAppData && path.win32.isAbsolute(localAppData))
      return path.win32.join(localAppData, 'tokenkeeper');
    return path.win32.join(home, 'AppData', 'Local', 'tokenkeeper');
  }
  if (platform === 'darwin') return path.posix.join(home, 'Library', 'Application Support', 'tokenkeeper');
  const xdg = env.XDG_DATA_HOME;
  // The XDG spec says a relative value is invalid and must be ignored.
  if (xdg && path.posix.isAbsolute(xdg)) return path.posix.join(xdg, 'tokenkeeper');
  return path.posix.join(home, '.local', 'share', 'tokenkeeper');
}

export type StoreLocation =
  | { kind: 'memory' }
  | { kind: 'sqlite'; path: string; keyFile: string }
  | { kind: 'postgres'; url: string; schema?: string }
  | { kind: 'redis'; url: string; keyPrefix?: string };

export interface OpenStoreOptions {
  /** Where TOKENKEEPER_KEY (and XDG_DATA_HOME / LOCALAPPDATA for the default path) are read. Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Overrides the default data directory (used when no location is given). */
  dataDir?: string;
  /** Base of relative paths. Default process.cwd(). */
  cwd?: string;
  /** SQLite: how long a write waits for another process, without blocking the event loop. Default 5000 ms. */
  busyTimeoutMs?: number;
  /** PostgreSQL: schema for the tables (overrides `?schema=`). */
  postgresSchema?: string;
  /** PostgreSQL: table name prefix. Default `tokenkeeper_`. */
  postgresTablePrefix?: string;
  /** Redis: key prefix (overrides `?prefix=`). Default `tokenkeeper:`. */
  redisKeyPrefix?: string;
  /**
   * The key to seal under (32 bytes, or their base64 or hex), for every kind of store. It wins
   * over TOKENKEEPER_KEY and over a SQLite key file, which is then neither read nor created.
   */
  encryptionKey?: Buffer | string;
  /** Keys that only open (a rotation under way). Default: TOKENKEEPER_PREVIOUS_KEYS. */
  previousEncryptionKeys?: ReadonlyArray<Buffer | string>;
}

/** A store opened from a location, with the SecretBox for its key. */
export interface OpenedStore {
  store: TokenStore;
  secretBox: SecretBox;
}

/** An open store with its keys, or, for a SQLite store whose key file is lost, why it has none. */
export interface StoreWithKeys {
  store: TokenStore;
  /** The key it seals under; undefined only with `missingKey`. */
  key: Buffer | undefined;
  previousKeys: Buffer[];
  /** What every operation that needs the key must say instead: the store, its key ids, what to do. */
  missingKey?: () => TokenkeeperError;
}

const SQLITE_EXTENSIONS = /\.(db|sqlite3?|db3)$/i;

/** The key file that belongs to a SQLite database: same directory, same base name, `.key`. */
export function keyFileFor(databasePath: string): string {
  const base = path.basename(databasePath).replace(SQLITE_EXTENSIONS, '');
  return path.join(path.dirname(databasePath), `${base}.key`);
}

function sqliteLocation(rawPath: string, options: OpenStoreOptions): StoreLocation {
  let file = rawPath;
  if (file === '~' || file.startsWith('~/') || file.startsWith('~\\')) {
    file = path.join(osHomedir(), file.slice(1));
  }
  if (file === '') {
    throw new ConfigError('The store location names no file; give a path such as `./tokenkeeper.db`.');
  }
  file = path.resolve(options.cwd ?? process.cwd(), file);
  // A directory (existing, or written with a trailing separator) holds the default file name.
  if (/[\\/]$/.test(rawPath) || isDirectory(file)) file = path.join(file, DEFAULT_DATABASE_NAME);
  return { kind: 'sqlite', path: file, keyFile: keyFileFor(file) };
}

function isDirectory(file: string): boolean {
  try {
    return statSync(file).isDirectory();
  } catch {
    return false;
  }
}

function stripFileScheme(value: string, scheme: string): string {
  const rest = value.slice(scheme.length);
  if (rest.startsWith('//')) {
    try {
      return fileURLToPath(`file:${rest}`);
    } catch (error) {
      throw new ConfigError(
        `The store location ${JSON.stringify(value)} is not a valid file URL; write a plain path instead.`,
        { cause: error },
      );
    }
  }
  return rest;
}

function takeParam(url: URL, name: string): string | undefined {
  const value = url.searchParams.get(name);
  url.searchParams.delete(name);
  return value === null || value === '' ? undefined : value;
}

/** Reads a location string without touching the network or creating anything. */
export function parseStoreLocation(
  location: string | undefined,
  options: OpenStoreOptions = {},
): StoreLocation {
  const value = location?.trim() ?? '';
  if (value === '') {
    const dir = options.dataDir ?? defaultDataDir({ env: options.env ?? process.env });
    const file = path.join(dir, DEFAULT_DATABASE_NAME);
    return { kind: 'sqlite', path: file, keyFile: keyFileFor(file) };
  }
  const lower = value.toLowerCase();
  if (lower === 'memory:' || lower === 'memory://') return { kind: 'memory' };
  if (lower.startsWith('sqlite:')) return sqliteLocation(stripFileScheme(value, 'sqlite:'), options);
  if (lower.startsWith('file:')) return sqliteLocation(stripFileScheme(value, 'file:'), options);
  if (lower.startsWith('postgres://') || lower.startsWith('postgresql://')) {
    const url = parseUrl(value);
    const schema = takeParam(url, 'schema');
    return schema === undefined
      ? { kind: 'postgres', url: url.toString() }
      : { kind: 'postgres', url: url.toString(), schema };
  }
  if (lower.startsWith('redis://') || lower.startsWith('rediss://')) {
    const url = parseUrl(value);
    const keyPrefix = takeParam(url, 'prefix');
    return keyPrefix === undefined
      ? { kind: 'redis', url: url.toString() }
      : { kind: 'redis', url: url.toString(), keyPrefix };
  }
  // Anything else that looks like a URL scheme (but not a Windows drive letter) is a mistake.
  const scheme = /^([a-z][a-z0-9+.-]+):/i.exec(value);
  if (scheme) {
    throw new ConfigError(
      `Unknown store location scheme "${scheme[1]}:"; use a file path, memory:, postgres://…, or redis://… ` +
        '(write ./ in front of a path that contains a colon).',
    );
  }
  return sqliteLocation(value, options);
}

function parseUrl(value: string): URL {
  try {
    return new URL(value);
  } catch (error) {
    // The value may hold a password: never echo it.
    throw new ConfigError(
      'The store URL cannot be parsed; check its form (scheme://user:password@host:port/name) and ' +
        'percent-encode special characters in the password.',
      { cause: error },
    );
  }
}

function remoteKeyError(what: string): ConfigError {
  return new ConfigError(
    `A ${what} store is shared by several hosts, so they must share its encryption key: set TOKENKEEPER_KEY ` +
      'to the same 32-byte key on every host that uses this store (create one with `openssl rand -base64 32`; ' +
      'from the library, pass it as the encryptionKey option instead).',
  );
}

function envKey(env: NodeJS.ProcessEnv): Buffer | undefined {
  const value = env.TOKENKEEPER_KEY;
  return value === undefined || value.trim() === ''
    ? undefined
    : parseEncryptionKey(value, 'TOKENKEEPER_KEY');
}

/**
 * Opens the store at `location` (see the top of this file for the forms it takes) with the
 * SecretBox for its secrets. The caller reads TOKENKEEPER_STORE; this reads TOKENKEEPER_KEY
 * and TOKENKEEPER_PREVIOUS_KEYS unless the keys are given. A SQLite store whose key file is
 * lost is refused (STORE_KEY), saying which key it needs.
 */
export async function openStore(location?: string, options: OpenStoreOptions = {}): Promise<OpenedStore> {
  const { store, key, previousKeys } = await openStoreWithKeys(location, options, { keyMayBeMissing: false });
  return { store, secretBox: createSecretBox(key!, previousKeys) };
}

/**
 * openStore for a keeper: with `keyMayBeMissing`, a SQLite store whose key file is lost is
 * opened all the same, without a key, so that what needs none (listing, status, forgetting)
 * still works; everything else says what `missingKey` says. A new key is never made for it.
 */
export async function openStoreWithKeys(
  location: string | undefined,
  options: OpenStoreOptions,
  { keyMayBeMissing }: { keyMayBeMissing: boolean },
): Promise<StoreWithKeys> {
  const env = options.env ?? process.env;
  const target = parseStoreLocation(location, options);
  // Parsed before anything is opened or created: a bad key must not leave a new store behind.
  const givenKey =
    options.encryptionKey === undefined
      ? envKey(env)
      : parseKeyOption(options.encryptionKey, 'encryptionKey');
  const previousKeys =
    options.previousEncryptionKeys === undefined
      ? parsePreviousEncryptionKeys(env.TOKENKEEPER_PREVIOUS_KEYS)
      : parseKeyListOption(options.previousEncryptionKeys, 'previousEncryptionKeys');
  switch (target.kind) {
    case 'memory': {
      const { MemoryTokenStore } = await import('./memory-store.js');
      return {
        store: new MemoryTokenStore(),
        key: givenKey ?? randomBytes(ENCRYPTION_KEY_BYTES),
        previousKeys,
      };
    }
    case 'sqlite': {
      if (givenKey) return { store: await openSqlite(target.path, options), key: givenKey, previousKeys };
      return openSqliteWithKeyFile(target.path, target.keyFile, options, previousKeys, keyMayBeMissing);
    }
    case 'postgres': {
      if (!givenKey) throw remoteKeyError('PostgreSQL');
      const { PostgresTokenStore } = await import('./postgres-store.js');
      const schema = options.postgresSchema ?? target.schema;
      const store = await PostgresTokenStore.connect({
        connectionString: target.url,
        ...(schema === undefined ? {} : { schema }),
        ...(options.postgresTablePrefix === undefined ? {} : { tablePrefix: options.postgresTablePrefix }),
      });
      return { store, key: givenKey, previousKeys };
    }
    case 'redis': {
      if (!givenKey) throw remoteKeyError('Redis');
      const { RedisTokenStore } = await import('./redis-store.js');
      const keyPrefix = options.redisKeyPrefix ?? target.keyPrefix;
      const store = await RedisTokenStore.connect({
        url: target.url,
        ...(keyPrefix === undefined ? {} : { keyPrefix }),
      });
      return { store, key: givenKey, previousKeys };
    }
  }
}

async function openSqlite(path: string, options: OpenStoreOptions): Promise<TokenStore> {
  const { SqliteTokenStore } = await import('./sqlite-store.js');
  return SqliteTokenStore.open(
    path,
    options.busyTimeoutMs === undefined ? {} : { busyTimeoutMs: options.busyTimeoutMs },
  );
}

/**
 * SQLite with the key file beside it, created on first use. A missing key file beside a
 * database that already holds connections is a lost key, not a first run: a new key could
 * open none of them, so none is made.
 */
async function openSqliteWithKeyFile(
  path: string,
  keyFile: string,
  options: OpenStoreOptions,
  previousKeys: Buffer[],
  keyMayBeMissing: boolean,
): Promise<StoreWithKeys> {
  if (path === ':memory:' || existsSync(keyFile) || !existsSync(path)) {
    // The key first: an unreadable key file must not leave a fresh empty database behind.
    const key = await resolveEncryptionKey({ env: {}, keyFile, createIfMissing: true });
    return { store: await openSqlite(path, options), key, previousKeys };
  }
  const store = await openSqlite(path, options);
  try {
    const rows = await store.list();
    if (rows.length === 0) {
      const key = await resolveEncryptionKey({ env: {}, keyFile, createIfMissing: true });
      return { store, key, previousKeys };
    }
    const keyIds = [...new Set(rows.map((row) => sealedKeyId(row.sealed) ?? '?'))];
    const missingKey = () => lostKeyFile(path, keyFile, rows.length, keyIds);
    if (!keyMayBeMissing) throw missingKey();
    return { store, key: undefined, previousKeys, missingKey };
  } catch (error) {
    await store.close();
    throw error;
  }
}

function lostKeyFile(path: string, keyFile: string, count: number, keyIds: string[]): TokenkeeperError {
  return new TokenkeeperError(
    'STORE_KEY',
    `The store ${path} holds ${count} connection(s) sealed with key ${keyIds.join(', ')}, but its key file ` +
      `${keyFile} is missing, so none of them opens and nothing can be saved (listing and forgetting ` +
      'connections need no key). Restore the key file, or give that key as TOKENKEEPER_KEY (from the ' +
      'library: the encryptionKey option). To start over with a new key instead, and log in again to the ' +
      'connections you need: create the key file with ' +
      `\`(umask 077 && openssl rand -base64 32 > ${shellWord(keyFile)})\`, then run ` +
      '`tokenkeeper login NAME --force` for each connection you need and `tokenkeeper logout NAME --local-only` ' +
      'for the others (`tokenkeeper status` lists them). No new key is made by itself: it could open none of them.',
  );
}
