/**
 * The persistence contract every backend (memory, SQLite, PostgreSQL, Redis) fulfils.
 *
 * Backends never see a secret in clear: the keeper hands them a connection's
 * non-secret metadata (`meta`, plain JSON, so `tokenkeeper status` can list
 * thousands of connections without decrypting anything) and one `sealed` string
 * produced by store/encryption.ts that holds every secret (client secret,
 * password, API key, access and refresh tokens).
 *
 * Three primitives make multi-process refresh safe:
 * - `put` is a compare-and-set on `version`, so a writer that lost a race finds out.
 *   Versions never restart: a connection deleted and created again continues from the
 *   deleted one's version, so a stale expectation can never match a newer connection;
 * - `tryLock`/`renewLock`/`unlock` is a lease with an owner token, renewed while its
 *   holder works and released by compare-and-delete, so a process whose lease expired can
 *   never release someone else's lock;
 * - a `put` or `delete` fenced by an owner happens only while that owner holds the lease, so
 *   a holder that lost its lease (paused, partitioned, too slow) cannot write over, or delete,
 *   what its successor saved.
 */

/** Plain-JSON metadata of a connection; its shape belongs to the keeper, backends store it as is. */
export type ConnectionMeta = Record<string, unknown>;

/** One row as a store keeps it: name, clear metadata, sealed secrets, version. */
export interface StoredConnection {
  name: string;
  meta: ConnectionMeta;
  /** Opaque ciphertext (see store/encryption.ts). */
  sealed: string;
  /** +1 on every write; the first write of a name continues from the version it had when deleted (1 for a new name). */
  version: number;
}

/** A stored connection without its sealed secrets: all that listing needs. */
export type StoredConnectionMeta = Omit<StoredConnection, 'sealed'>;

/** The contract every store backend meets: compare-and-set rows and a lease-style lock. */
export interface TokenStore {
  /** 'memory' | 'sqlite' | 'postgres' | 'redis' */
  readonly kind: string;
  /** Where the data lives, for humans (a path, or a URL without its password). */
  readonly location: string;

  get(name: string): Promise<StoredConnection | undefined>;
  list(): Promise<StoredConnection[]>;
  /**
   * Like list() without the sealed secrets, for backends that can skip reading them
   * (`tokenkeeper status` over many connections). Optional: callers fall back to list().
   */
  listMeta?(): Promise<StoredConnectionMeta[]>;
  /**
   * Writes the connection if its stored version equals `expectedVersion`
   * (0 means "must not exist yet"; null means "write whatever is there").
   * With `fence`, the write also requires that the owner `fence` holds the lock of
   * `name` with a lease that has not run out, checked in the same atomic step.
   * Resolves to the new version, or undefined when an expectation failed:
   * someone else wrote first, or the fence's lease is gone; nothing was changed.
   */
  put(
    name: string,
    meta: ConnectionMeta,
    sealed: string,
    expectedVersion: number | null,
    fence?: string,
  ): Promise<number | undefined>;
  /**
   * Deletes the connection and drops its lock; the version is kept. With `fence`, only while
   * the owner `fence` holds the lock with a lease that has not run out, checked in the same
   * atomic step (a logout paused past its lease must not delete a newer login). Resolves to
   * true when something was deleted; false when nothing was there, or the fence's lease is gone.
   */
  delete(name: string, fence?: string): Promise<boolean>;

  /**
   * Takes the refresh lock of `name` for `ttlMs` if nobody holds it, the holder's lease
   * has run out (measured by the backend's own clock), or `owner` holds it already (then
   * the lease is extended: a resent request finds its own lock, not a stranger's). True
   * when `owner` holds it afterwards.
   */
  tryLock(name: string, owner: string, ttlMs: number): Promise<boolean>;
  /**
   * Extends the lease of `owner` to `ttlMs` from now, if `owner` still holds the lock
   * (nobody took it over). False when the lock is gone or someone else holds it.
   */
  renewLock(name: string, owner: string, ttlMs: number): Promise<boolean>;
  /** Releases the lock only if `owner` still holds it. True when released. */
  unlock(name: string, owner: string): Promise<boolean>;

  /**
   * When each connection next needs work, shared by every process on this store (see
   * DueIndex). Optional: a backend without it serves one daemon, which keeps its
   * schedule in memory.
   */
  readonly dueIndex?: DueIndex;

  /**
   * Client-side rate limits counted once for every process on this store (see
   * SharedRateLimits). Optional: without it each process counts its own requests.
   */
  readonly rateLimits?: SharedRateLimits;

  /**
   * Tells `onChange` of every row written or deleted on this store, by any process, soon
   * after it commits (PostgreSQL LISTEN/NOTIFY, Redis pub/sub, a log in the SQLite file read
   * every 100 ms), in order for each name (not across names: on a Redis Cluster they come from
   * different nodes). Best effort: a change made while the feed's connection is down, or one
   * that fell off SQLite's log, goes unheard, so a watcher still reads the store now and then.
   * `onMissed` hears when that may have happened (the connection is back, or the watcher fell
   * behind the log): the moment to read the store again. A feed can still be deaf without
   * knowing it (LISTEN behind a transaction pooler). Optional: without it, a watcher only
   * reads the store now and then.
   */
  watchChanges?(onChange: (change: StoreChange) => void, onMissed?: () => void): Promise<ChangeFeed>;

  close(): Promise<void>;
}

/** A row that was written (its new version) or deleted (the version it had). */
export interface StoreChange {
  name: string;
  version: number;
  deleted: boolean;
}

/** A subscription to a store's changes; close it before the store. */
export interface ChangeFeed {
  /**
   * Sends a message through the way the store's changes come (NOTIFY from a pooled
   * connection, PUBLISH; on SQLite, the next read of the log) and resolves true once this
   * feed hears it, false if it does not within `withinMs`: proof that the feed delivers,
   * for a watcher that writes nothing itself. Optional.
   */
  echo?(withinMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * Request budgets shared through the store, so that processes (and hosts) using one
 * connection stay under its provider's rate limit together rather than each on its own.
 * A budget is "at most `limit` requests in any `windowMs`"; each backend keeps that
 * promise in its own way (a request log on SQLite, fixed windows of rate-limiter-flexible
 * on PostgreSQL and Redis, see fixed-windows.ts).
 */
export interface SharedRateLimits {
  /**
   * Takes one request from `budget` if it has room now. Resolves to 0 when taken, or to
   * the milliseconds to wait before asking again.
   */
  take(budget: string, limit: number, windowMs: number): Promise<number>;
  /** The server refused with a 429: every process holds `budget` back for `ms`. */
  holdOff(budget: string, limit: number, windowMs: number, ms: number): Promise<void>;
}

/**
 * An index of due times shared through the store, so that several daemons on one
 * PostgreSQL or Redis split the work and each due refresh is claimed by one of them.
 *
 * Claiming is a visibility timeout, as in a job queue: a claimed entry is pushed
 * `leaseMs` into the future, so it stays invisible to other claimers while its claimer
 * works, and comes due again one lease later if that claimer dies. The claimer then
 * schedules the entry's real next due time. Times are epoch milliseconds from the
 * caller's clock, so every caller on the store must agree on the time (NTP), as leases
 * already require.
 */
export interface DueIndex {
  /** Sets or moves when `name` next needs work. */
  scheduleDue(name: string, dueAtMs: number): Promise<void>;
  /** Drops `name` from the index (after a logout, or when the connection is gone). */
  unscheduleDue(name: string): Promise<void>;
  /**
   * Claims up to `limit` entries due at or before `nowMs`, most overdue first, moving
   * each to `nowMs + leaseMs`. Two concurrent claimers never receive the same name.
   */
  claimDue(nowMs: number, limit: number, leaseMs: number): Promise<string[]>;
  /** The earliest due time in the index, or undefined when it is empty. */
  nextDueAt(): Promise<number | undefined>;
  /** Announces that daemon `id` is alive until `nowMs + ttlMs`. */
  heartbeat(id: string, nowMs: number, ttlMs: number): Promise<void>;
  /** Ids of the daemons whose heartbeat has not run out at `nowMs`. */
  liveDaemons(nowMs: number): Promise<string[]>;
}
