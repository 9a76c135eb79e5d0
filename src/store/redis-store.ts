/**
 * A TokenStore in Redis or Redis Cluster, for several hosts sharing connections.
 *
 * Where each thing lives is redis-keys.ts: every key of one connection carries the same
 * hash tag, so each script below touches one slot. Writes that must compare first (CAS
 * put, delete, compare-and-delete unlock) are small Lua scripts, which Redis runs
 * atomically. The set of names and the due index live under the prefix's own tag; they
 * are updated beside the scripts (a name is added before a write that may create its
 * connection and never removed, and listing skips names that hold no connection), so no
 * script spans slots. The write and delete scripts also PUBLISH what they did on the
 * prefix's channel (watchChanges), which needs no slot.
 */

import type { RedisOptions } from 'ioredis';
import { ConfigError, StoreError } from '../errors.js';
import { Echoes, parseStoreChange } from './change-feed.js';
import { didNotAnswer, UNREACHABLE_CODES } from './deadlines.js';
import { FlexibleRateLimits } from './flexible-rate-limits.js';
import { redactConnectionUrl } from './redact-url.js';
import { connectRedis, type RedisClient } from './redis-connect.js';
import { RedisDueIndex } from './redis-due-index.js';
import { type RedisKeys, redisKeys } from './redis-keys.js';
import { upgradeRedisLayout } from './redis-layout.js';
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
  parseMeta,
  toStoredMeta,
} from './validate.js';

/** How `RedisTokenStore.connect` reaches Redis (standalone or a Cluster), and the prefix of its keys. */
export interface RedisTokenStoreOptions {
  /**
   * `redis://[user:password@]host:port[/db]` or `rediss://…` for TLS. A node of a Redis
   * Cluster is detected (`INFO cluster`) and the cluster is used through it.
   */
  url: string;
  /** Prefix of every key. Default `tokenkeeper:`. */
  keyPrefix?: string;
  /** More ioredis settings (tls, timeouts…); on a cluster, the settings of each node's connection. */
  redis?: RedisOptions;
}

// KEYS: conn, lock (one slot). ARGV: meta, sealed, expected ('' = any), updated_at, fence ('' = none),
// changes channel, name. Returns the new version, or 0 when an expectation failed. A write
// announces itself on the channel (TokenStore.watchChanges); a failed one announces nothing.
const PUT_SCRIPT = `
if ARGV[5] ~= '' and redis.call('GET', KEYS[2]) ~= ARGV[5] then return 0 end
local current = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
local exists = redis.call('HEXISTS', KEYS[1], 'sealed') == 1
if ARGV[3] ~= '' and tonumber(ARGV[3]) ~= (exists and current or 0) then return 0 end
local version = current + 1
redis.call('HSET', KEYS[1], 'meta', ARGV[1], 'sealed', ARGV[2], 'version', version, 'updated_at', ARGV[4])
redis.call('PUBLISH', ARGV[6], cjson.encode({name = ARGV[7], version = version, deleted = false}))
return version
`;

// KEYS: conn, lock (one slot). ARGV: fence ('' = none), changes channel, name. Returns 1 when
// the connection existed and was deleted (and announces it). The version stays behind, so a
// connection created again under this name continues from it. A lease that ran out is gone
// from Redis (PX), so it fails the fence too.
const DELETE_SCRIPT = `
if ARGV[1] ~= '' and redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
local existed = redis.call('HEXISTS', KEYS[1], 'sealed')
redis.call('HDEL', KEYS[1], 'meta', 'sealed', 'updated_at')
redis.call('DEL', KEYS[2])
if existed == 1 then
  local version = tonumber(redis.call('HGET', KEYS[1], 'version'))
  redis.call('PUBLISH', ARGV[2], cjson.encode({name = ARGV[3], version = version, deleted = true}))
end
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

// rate-limiter-flexible's counter script with a window in milliseconds (PX) instead of
// whole seconds, so sub-windows such as 15.125 s keep their length.
// KEYS: counter. ARGV: points, whole seconds, limit, duration in seconds (may have a fraction).
const INCREMENT_IN_WINDOW_SCRIPT = `
local ms = math.floor(tonumber(ARGV[4]) * 1000)
redis.call('SET', KEYS[1], 0, 'PX', ms, 'NX')
local consumed = redis.call('INCRBY', KEYS[1], ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl == -1 then
  redis.call('PEXPIRE', KEYS[1], ms)
  ttl = ms
end
return {consumed, ttl}
`;

interface TokenkeeperCommands {
  tokenkeeperPut(
    conn: string,
    lock: string,
    meta: string,
    sealed: string,
    expected: string,
    updatedAt: string,
    fence: string,
    channel: string,
    name: string,
  ): Promise<number>;
  tokenkeeperLock(lock: string, owner: string, ttlMs: string): Promise<number>;
  tokenkeeperRenew(lock: string, owner: string, ttlMs: string): Promise<number>;
  tokenkeeperDelete(
    conn: string,
    lock: string,
    fence: string,
    channel: string,
    name: string,
  ): Promise<number>;
  tokenkeeperUnlock(lock: string, owner: string): Promise<number>;
}

type Client = RedisClient & TokenkeeperCommands;

const LIST_BATCH = 500;

function wrap(location: string, action: string, error: unknown): StoreError {
  if (error instanceof StoreError || error instanceof ConfigError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  let hint = 'check that the server is up and reachable from this host';
  const code = (error as { code?: string }).code ?? '';
  let kind: StoreError['kind'] =
    UNREACHABLE_CODES.has(code) || /Connection is closed|ECONNREFUSED|ENOTFOUND/i.test(detail)
      ? 'unreachable'
      : undefined;
  if (/NOAUTH|WRONGPASS|invalid password|invalid username/i.test(detail)) {
    [hint, kind] = ['check the user name and password in the store URL', 'unusable'];
  } else if (/NOPERM/i.test(detail)) {
    hint =
      "the Redis user lacks a permission (it needs hash, set, sorted set, string, INFO, EVAL and EVALSHA on the store's keys)";
    kind = 'unusable';
  } else if (/CROSSSLOT/i.test(detail)) {
    hint = 'a command spanned slots of a Redis Cluster; report this as a tokenkeeper bug';
  } else if (/READONLY/i.test(detail)) {
    [hint, kind] = ['the server is a read-only replica; point the store URL at the primary', 'unusable'];
  } else if (/Command timed out/i.test(detail)) {
    [hint, kind] = [didNotAnswer(), 'unreachable'];
  }
  return new StoreError(`Redis store at ${location} failed to ${action} (${detail}): ${hint}.`, {
    cause: error,
    kind,
  });
}

/** A store in Redis or Redis Cluster, shared by many hosts (`redis://…?prefix=name:`). */
export class RedisTokenStore implements TokenStore {
  readonly kind = 'redis';
  readonly location: string;
  /** Whether the server is a Redis Cluster (detected on connect). */
  readonly cluster: boolean;
  readonly dueIndex: RedisDueIndex;
  readonly rateLimits: FlexibleRateLimits;
  readonly #client: Client;
  readonly #prefix: string;
  readonly #keys: RedisKeys;
  readonly #feeds = new Set<ChangeFeed>();
  #closed = false;

  /**
   * Connects (to the whole cluster when the server is a cluster node) and moves keys of an
   * older layout to the current one. `ioredis` is loaded here, on first use, so other
   * backends never load it.
   */
  static async connect(options: RedisTokenStoreOptions): Promise<RedisTokenStore> {
    const location = redactConnectionUrl(options.url);
    const keyPrefix = options.keyPrefix ?? 'tokenkeeper:';
    if (keyPrefix === '') {
      throw new ConfigError(
        'The Redis key prefix must not be empty; keep the default `tokenkeeper:` or pick another.',
      );
    }
    const { client, cluster } = await connectRedis(options.url, options.redis ?? {}, (error) =>
      wrap(location, 'connect', error),
    );
    const commands = client as Client;
    commands.defineCommand('tokenkeeperPut', { numberOfKeys: 2, lua: PUT_SCRIPT });
    commands.defineCommand('tokenkeeperLock', { numberOfKeys: 1, lua: LOCK_SCRIPT });
    commands.defineCommand('tokenkeeperRenew', { numberOfKeys: 1, lua: RENEW_SCRIPT });
    commands.defineCommand('tokenkeeperDelete', { numberOfKeys: 2, lua: DELETE_SCRIPT });
    commands.defineCommand('tokenkeeperUnlock', { numberOfKeys: 1, lua: UNLOCK_SCRIPT });
    const keys = redisKeys(keyPrefix);
    try {
      await upgradeRedisLayout(client, keyPrefix, keys, { cluster, location });
    } catch (error) {
      client.disconnect();
      throw wrap(location, 'bring its keys to the current layout', error);
    }
    return new RedisTokenStore(commands, { location, prefix: keyPrefix, keys, cluster });
  }

  private constructor(
    client: Client,
    options: { location: string; prefix: string; keys: RedisKeys; cluster: boolean },
  ) {
    this.#client = client;
    this.location = options.location;
    this.#prefix = options.prefix;
    this.#keys = options.keys;
    this.cluster = options.cluster;
    this.dueIndex = new RedisDueIndex(client, options.keys, (action, command) => this.#run(action, command));
    this.rateLimits = new FlexibleRateLimits(
      (flexible, { points, durationMs, insuranceLimiter }) =>
        new flexible.RateLimiterRedis({
          storeClient: client,
          keyPrefix: options.keys.rateLimits,
          points,
          // rate-limiter-flexible's own script counts whole seconds; INCREMENT_IN_WINDOW_SCRIPT counts ms.
          duration: Math.max(1, durationMs / 1000),
          customIncrTtlLuaScript: INCREMENT_IN_WINDOW_SCRIPT,
          insuranceLimiter,
        }),
    );
  }

  /** The prefix of every key this store writes. */
  get keyPrefix(): string {
    return this.#prefix;
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
    const hash = await this.#run(`read "${name}"`, () => this.#client.hgetall(this.#keys.conn(name)));
    return this.#toStored(name, hash);
  }

  async list(): Promise<StoredConnection[]> {
    return this.#listEach(
      'list connections',
      (key) => this.#client.hgetall(key),
      (name, reply) => this.#toStored(name, reply as Record<string, string>),
    );
  }

  async listMeta(): Promise<StoredConnectionMeta[]> {
    return this.#listEach(
      'list connections',
      (key) => this.#client.hmget(key, 'meta', 'version'),
      (name, reply) => {
        const [meta, version] = reply as [string | null, string | null];
        return meta === null || version === null
          ? undefined
          : toStoredMeta({ name, meta, version }, this.location);
      },
    );
  }

  /**
   * Every connection in the names set, in name order. Reads go out in batches without
   * waiting for each other (one round trip per batch; on a cluster, per node).
   */
  #listEach<T>(
    action: string,
    read: (key: string) => Promise<unknown>,
    convert: (name: string, reply: unknown) => T | undefined,
  ): Promise<T[]> {
    return this.#run(action, async () => {
      const names = (await this.#client.smembers(this.#keys.names)).sort();
      const result: T[] = [];
      for (let start = 0; start < names.length; start += LIST_BATCH) {
        const batch = names.slice(start, start + LIST_BATCH);
        const replies = await Promise.all(batch.map((name) => read(this.#keys.conn(name))));
        batch.forEach((name, index) => {
          const item = convert(name, replies[index]);
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
    const version = await this.#run(`write "${name}"`, async () => {
      // Named before a write that may create it: a crash in between leaves a name that lists
      // as nothing, never a connection that does not list. An update (an expected version of
      // 1 or more) succeeds only on a row that was named when it was created: one command
      // less on every refresh.
      if (expectedVersion === null || expectedVersion === 0) await this.#client.sadd(this.#keys.names, name);
      return this.#client.tokenkeeperPut(
        this.#keys.conn(name),
        this.#keys.lock(name),
        metaJson,
        sealed,
        expectedVersion === null ? '' : String(expectedVersion),
        String(Date.now()),
        fence ?? '',
        this.#keys.changes,
        name,
      );
    });
    return version > 0 ? version : undefined;
  }

  async delete(name: string, fence?: string): Promise<boolean> {
    assertConnectionName(name);
    if (fence !== undefined) assertLockArguments(fence);
    const existed = await this.#run(`delete "${name}"`, async () => {
      const deleted = await this.#client.tokenkeeperDelete(
        this.#keys.conn(name),
        this.#keys.lock(name),
        fence ?? '',
        this.#keys.changes,
        name,
      );
      // Another slot on a cluster, so not in the script: a daemon that claims a left-over
      // entry finds no connection and unschedules it.
      if (deleted > 0) await this.#client.zrem(this.#keys.due, name);
      return deleted;
    });
    return existed > 0;
  }

  async tryLock(name: string, owner: string, ttlMs: number): Promise<boolean> {
    assertConnectionName(name);
    assertLockArguments(owner, ttlMs);
    const taken = await this.#run(`lock "${name}"`, () =>
      this.#client.tokenkeeperLock(this.#keys.lock(name), owner, String(Math.ceil(ttlMs))),
    );
    return taken === 1;
  }

  async renewLock(name: string, owner: string, ttlMs: number): Promise<boolean> {
    assertConnectionName(name);
    assertLockArguments(owner, ttlMs);
    const renewed = await this.#run(`renew the lock of "${name}"`, () =>
      this.#client.tokenkeeperRenew(this.#keys.lock(name), owner, String(Math.ceil(ttlMs))),
    );
    return renewed === 1;
  }

  async unlock(name: string, owner: string): Promise<boolean> {
    assertConnectionName(name);
    assertLockArguments(owner);
    const released = await this.#run(`unlock "${name}"`, () =>
      this.#client.tokenkeeperUnlock(this.#keys.lock(name), owner),
    );
    return released > 0;
  }

  /**
   * A connection of its own in subscriber mode (it can do nothing else); ioredis reconnects
   * it and subscribes again after a drop, and `onMissed` is told once that subscription is
   * back. On a cluster, a message reaches every node.
   */
  async watchChanges(onChange: (change: StoreChange) => void, onMissed?: () => void): Promise<ChangeFeed> {
    if (this.#closed) throw closedError(this.kind, this.location);
    const subscriber = this.#client.duplicate();
    subscriber.on('error', () => undefined); // a drop is retried by ioredis; the watcher still reads the store
    const channel = this.#keys.changes;
    const echoes = new Echoes();
    subscriber.on('message', (from: string, payload: string) => {
      if (from !== channel || echoes.take(payload)) return;
      const change = parseStoreChange(payload);
      if (change) onChange(change);
    });
    // Best effort: a server that is down now is subscribed to once ioredis reconnects.
    await subscriber.subscribe(channel).catch(() => undefined);
    let readyBefore = subscriber.status === 'ready';
    subscriber.on('ready', () => {
      if (!readyBefore) {
        readyBefore = true; // the first connection: nothing was missed before it
        return;
      }
      // Back after a drop. ioredis subscribes again on its own; asking once more (a no-op for
      // the server) answers only after that, so nothing after onMissed goes unheard.
      subscriber
        .subscribe(channel)
        .then(() => onMissed?.())
        .catch(() => undefined); // down again: the next 'ready' tells
    });
    const feed: ChangeFeed = {
      // PUBLISH from the store's own client, as the write scripts do.
      echo: async (withinMs) => {
        const { payload, heard, unsent } = echoes.expect(withinMs);
        // Not subscribed now: it could not be heard.
        if (subscriber.status !== 'ready') unsent();
        else this.#client.publish(channel, payload).catch(unsent);
        return heard;
      },
      close: async () => {
        this.#feeds.delete(feed);
        echoes.close();
        // Bounded: QUIT times out as every command does (redis-connect.ts).
        await subscriber.quit().catch(() => subscriber.disconnect());
      },
    };
    this.#feeds.add(feed);
    return feed;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#feeds].map((feed) => feed.close()));
    try {
      await this.#client.quit();
    } catch {
      this.#client.disconnect();
    }
  }
}
