/**
 * A TokenStore in Redis, for several hosts sharing connections.
 *
 * Keys (prefix `tokenkeeper:` by default):
 * - `<prefix>conn:<name>`  hash { meta (JSON), sealed, version, updated_at }; a deleted
 *                          connection keeps only `version`, so versions never restart
 * - `<prefix>lock:<name>`  string: the owner token, with a PX expiry (Redis's clock)
 * - `<prefix>names`        set of connection names, so `list` never needs KEYS
 *
 * Writes that must compare first (CAS put, delete, compare-and-delete unlock) are small
 * Lua scripts, which Redis runs atomically. Not for Redis Cluster: the scripts touch
 * several keys that may live in different slots.
 */

import type { Redis, RedisOptions } from 'ioredis';
import { ConfigError, StoreError } from '../errors.js';
import { redactConnectionUrl } from './redact-url.js';
import type { ConnectionMeta, StoredConnection, StoredConnectionMeta, TokenStore } from './types.js';
import {
  assertConnectionName,
  assertLockArguments,
  checkPut,
  closedError,
  parseMeta,
  toStoredMeta,
} from './validate.js';

export interface RedisTokenStoreOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://…` for TLS. */
  url: string;
  /** Prefix of every key. Default `tokenkeeper:`. */
  keyPrefix?: string;
  /** More ioredis settings (tls, timeouts…). */
  redis?: RedisOptions;
}

// KEYS: conn, names, lock. ARGV: name, meta, sealed, expected ('' = any), updated_at, fence ('' = none).
// Returns the new version, or 0 when an expectation failed.
const PUT_SCRIPT = `
if ARGV[6] ~= '' and redis.call('GET', KEYS[3]) ~= ARGV[6] then return 0 end
local current = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
local exists = redis.call('HEXISTS', KEYS[1], 'sealed') == 1
if ARGV[4] ~= '' and tonumber(ARGV[4]) ~= (exists and current or 0) then return 0 end
local version = current + 1
redis.call('HSET', KEYS[1], 'meta', ARGV[2], 'sealed', ARGV[3], 'version', version, 'updated_at', ARGV[5])
redis.call('SADD', KEYS[2], ARGV[1])
return version
`;

// KEYS: conn, lock, names. ARGV: name, fence ('' = none). Returns 1 when the connection existed
// and was deleted. The version stays behind, so a connection created again under this name
// continues from it. A lease that ran out is gone from Redis (PX), so it fails the fence too.
const DELETE_SCRIPT = `
if ARGV[2] ~= '' and redis.call('GET', KEYS[2]) ~= ARGV[2] then return 0 end
local existed = redis.call('HEXISTS', KEYS[1], 'sealed')
redis.call('HDEL', KEYS[1], 'meta', 'sealed', 'updated_at')
redis.call('DEL', KEYS[2])
redis.call('SREM', KEYS[3], ARGV[1])
return existed
`;

// KEYS: lock. ARGV: owner, ttl ms. Takes a free lock, or extends the owner's own: a command
// resent after a lost reply finds the lock it took, not a stranger's.
const LOCK_SCRIPT = `
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`;

// KEYS: lock. ARGV: owner, ttl ms. Extends the lease only while the owner still holds it.
const RENEW_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`;

// KEYS: lock. ARGV: owner. Compare-and-delete.
const UNLOCK_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

interface TokenkeeperCommands {
  tokenkeeperPut(
    conn: string,
    names: string,
    lock: string,
    name: string,
    meta: string,
    sealed: string,
    expected: string,
    updatedAt: string,
    fence: string,
  ): Promise<number>;
  tokenkeeperLock(lock: string, owner: string, ttlMs: string): Promise<number>;
  tokenkeeperRenew(lock: string, owner: string, ttlMs: string): Promise<number>;
  tokenkeeperDelete(conn: string, lock: string, names: string, name: string, fence: string): Promise<number>;
  tokenkeeperUnlock(lock: string, owner: string): Promise<number>;
}

type Client = Redis & TokenkeeperCommands;

const LIST_BATCH = 500;

function wrap(location: string, action: string, error: unknown): StoreError {
  if (error instanceof StoreError || error instanceof ConfigError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  let hint = 'check that the server is up and reachable from this host';
  if (/NOAUTH|WRONGPASS|invalid password|invalid username/i.test(detail)) {
    hint = 'check the user name and password in the store URL';
  } else if (/NOPERM/i.test(detail)) {
    hint =
      "the Redis user lacks a permission (it needs hash, set, string, EVAL and EVALSHA on the store's keys)";
  } else if (/READONLY/i.test(detail)) {
    hint = 'the server is a read-only replica; point the store URL at the primary';
  }
  return new StoreError(`Redis store at ${location} failed to ${action} (${detail}): ${hint}.`, {
    cause: error,
  });
}

/** A store in Redis, shared by many hosts (`redis://…?prefix=name:`). */
export class RedisTokenStore implements TokenStore {
  readonly kind = 'redis';
  readonly location: string;
  readonly #client: Client;
  readonly #prefix: string;
  #closed = false;

  /** Connects; `ioredis` is loaded here, on first use, so other backends never load it. */
  static async connect(options: RedisTokenStoreOptions): Promise<RedisTokenStore> {
    const location = redactConnectionUrl(options.url);
    const keyPrefix = options.keyPrefix ?? 'tokenkeeper:';
    if (keyPrefix === '') {
      throw new ConfigError(
        'The Redis key prefix must not be empty; keep the default `tokenkeeper:` or pick another.',
      );
    }
    let RedisClass: typeof Redis;
    try {
      RedisClass = (await import('ioredis')).Redis;
    } catch (error) {
      throw new StoreError(
        'Cannot load the `ioredis` package for the Redis store; install it (`npm install ioredis`) next to tokenkeeper.',
        { cause: error },
      );
    }
    const client = new RedisClass(options.url, {
      lazyConnect: true,
      connectTimeout: 10_000,
      maxRetriesPerRequest: 3,
      ...options.redis,
    }) as Client;
    // Without a listener ioredis prints connection errors itself; commands report them to their callers.
    let lastError: unknown;
    client.on('error', (error: unknown) => {
      lastError = error;
    });
    client.defineCommand('tokenkeeperPut', { numberOfKeys: 3, lua: PUT_SCRIPT });
    client.defineCommand('tokenkeeperLock', { numberOfKeys: 1, lua: LOCK_SCRIPT });
    client.defineCommand('tokenkeeperRenew', { numberOfKeys: 1, lua: RENEW_SCRIPT });
    client.defineCommand('tokenkeeperDelete', { numberOfKeys: 3, lua: DELETE_SCRIPT });
    client.defineCommand('tokenkeeperUnlock', { numberOfKeys: 1, lua: UNLOCK_SCRIPT });
    try {
      await client.connect();
    } catch (error) {
      client.disconnect();
      // connect() only says "Connection is closed."; the 'error' event said why.
      throw wrap(location, 'connect', lastError ?? error);
    }
    return new RedisTokenStore(client, location, keyPrefix);
  }

  private constructor(client: Client, location: string, prefix: string) {
    this.#client = client;
    this.location = location;
    this.#prefix = prefix;
  }

  /** The prefix of every key this store writes. */
  get keyPrefix(): string {
    return this.#prefix;
  }

  #connKey(name: string): string {
    return `${this.#prefix}conn:${name}`;
  }

  #lockKey(name: string): string {
    return `${this.#prefix}lock:${name}`;
  }

  get #namesKey(): string {
    return `${this.#prefix}names`;
  }

  async #run<T>(action: string, command: () => Promise<T>): Promise<T> {
    if (this.#closed) throw closedError(this.kind, this.location);
    try {
      return await command();
    } catch (error) {
      throw wrap(this.location, action, error);
    }
  }

  #toStored(name: string, hash: Record<string, string>): StoredConnection | undefined {
    if (hash.version === undefined || hash.sealed === undefined) return undefined;
    return {
      name,
      meta: parseMeta(hash.meta, name, this.location),
      sealed: hash.sealed,
      version: Number(hash.version),
    };
  }

  async get(name: string): Promise<StoredConnection | undefined> {
    assertConnectionName(name);
    const hash = await this.#run(`read "${name}"`, () => this.#client.hgetall(this.#connKey(name)));
    return this.#toStored(name, hash);
  }

  async list(): Promise<StoredConnection[]> {
    return this.#listEach(
      'list connections',
      (pipeline, key) => pipeline.hgetall(key),
      (name, reply) => this.#toStored(name, reply as Record<string, string>),
    );
  }

  async listMeta(): Promise<StoredConnectionMeta[]> {
    return this.#listEach(
      'list connections',
      (pipeline, key) => pipeline.hmget(key, 'meta', 'version'),
      (name, reply) => {
        const [meta, version] = reply as [string | null, string | null];
        return meta === null || version === null
          ? undefined
          : toStoredMeta({ name, meta, version }, this.location);
      },
    );
  }

  /** Every connection in the names set, read in pipelined batches, in name order. */
  #listEach<T>(
    action: string,
    read: (pipeline: ReturnType<Client['pipeline']>, key: string) => unknown,
    convert: (name: string, reply: unknown) => T | undefined,
  ): Promise<T[]> {
    return this.#run(action, async () => {
      const names = (await this.#client.smembers(this.#namesKey)).sort();
      const result: T[] = [];
      for (let start = 0; start < names.length; start += LIST_BATCH) {
        const batch = names.slice(start, start + LIST_BATCH);
        const pipeline = this.#client.pipeline();
        for (const name of batch) read(pipeline, this.#connKey(name));
        const replies = (await pipeline.exec()) ?? [];
        batch.forEach((name, index) => {
          const [error, reply] = replies[index] ?? [new Error('no reply'), undefined];
          if (error) throw error;
          const item = convert(name, reply);
          if (item) result.push(item);
        });
      }
      return result;
    });
  }

  async put(
    name: string,
    meta: ConnectionMeta,
    sealed: string,
    expectedVersion: number | null,
    fence?: string,
  ): Promise<number | undefined> {
    const metaJson = checkPut(name, meta, sealed, expectedVersion, fence);
    const version = await this.#run(`write "${name}"`, () =>
      this.#client.tokenkeeperPut(
        this.#connKey(name),
        this.#namesKey,
        this.#lockKey(name),
        name,
        metaJson,
        sealed,
        expectedVersion === null ? '' : String(expectedVersion),
        String(Date.now()),
        fence ?? '',
      ),
    );
    return version > 0 ? version : undefined;
  }

  async delete(name: string, fence?: string): Promise<boolean> {
    assertConnectionName(name);
    if (fence !== undefined) assertLockArguments(fence);
    const existed = await this.#run(`delete "${name}"`, () =>
      this.#client.tokenkeeperDelete(
        this.#connKey(name),
        this.#lockKey(name),
        this.#namesKey,
        name,
        fence ?? '',
      ),
    );
    return existed > 0;
  }

  async tryLock(name: string, owner: string, ttlMs: number): Promise<boolean> {
    assertConnectionName(name);
    assertLockArguments(owner, ttlMs);
    const taken = await this.#run(`lock "${name}"`, () =>
      this.#client.tokenkeeperLock(this.#lockKey(name), owner, String(Math.ceil(ttlMs))),
    );
    return taken === 1;
  }

  async renewLock(name: string, owner: string, ttlMs: number): Promise<boolean> {
    assertConnectionName(name);
    assertLockArguments(owner, ttlMs);
    const renewed = await this.#run(`renew the lock of "${name}"`, () =>
      this.#client.tokenkeeperRenew(this.#lockKey(name), owner, String(Math.ceil(ttlMs))),
    );
    return renewed === 1;
  }

  async unlock(name: string, owner: string): Promise<boolean> {
    assertConnectionName(name);
    assertLockArguments(owner);
    const released = await this.#run(`unlock "${name}"`, () =>
      this.#client.tokenkeeperUnlock(this.#lockKey(name), owner),
    );
    return released > 0;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#client.quit();
    } catch {
      this.#client.disconnect();
    }
  }
}
