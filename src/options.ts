/**
 * Every default of a keeper, normalised in one place: timeouts, the refresh
 * lease, refresh margins and the back-off schedules. Modules below the keeper
 * receive these settings; none of them keeps a default of its own.
 */
import { type Clock, systemClock } from './clock.js';
import { ConfigError } from './errors.js';
import type { BackoffPolicy } from './http/backoff.js';
import { type BufferedFetch, bufferedRequest, bufferedThrough } from './http/buffered-request.js';
import type { ProviderProfile } from './providers/types.js';
import { defaultRefreshTiming, type RefreshTimingOptions } from './refresh/refresh-timing.js';
import type { TokenStore } from './store/types.js';
import { didYouMean } from './suggest.js';

/** Options of createKeeper; every one is optional. */
export interface KeeperOptions {
  /** A store, or where one lives (a path, `memory:`, `postgres://…`, `redis://…`). Default: TOKENKEEPER_STORE, else the SQLite file in the user's data directory. */
  store?: TokenStore | string;
  /**
   * Encryption key (32 bytes, or its base64/hex), for every kind of store, a location string
   * included. It wins over TOKENKEEPER_KEY and over a SQLite key file, which is then neither
   * read nor created. A bad one is refused by createKeeper. Default: TOKENKEEPER_KEY, else (SQLite
   * only) the key file beside the database.
   */
  encryptionKey?: Buffer | string;
  /**
   * Keys that only open, for every kind of store: secrets sealed under them (before a key
   * rotation) are read, and sealed under the current key on their next write.
   * Default: TOKENKEEPER_PREVIOUS_KEYS (comma-separated).
   */
  previousEncryptionKeys?: ReadonlyArray<Buffer | string>;
  /** Token time: freshness, expiry and the proactive refresh timers. Tests pass a FakeClock. */
  clock?: Clock;
  /**
   * Real time for waits that pace traffic to servers and other processes: Retry-After,
   * client-side rate limits, polling another process's refresh lock. Default: the system clock.
   */
  pacingClock?: Clock;
  /**
   * Sends every request: API requests, and token, revocation and discovery requests.
   * Default: Node's fetch for API requests; node:http for the others, whose small answers
   * are read whole.
   */
  fetch?: typeof fetch;
  /** Source of randomness in [0, 1) for jitter. */
  random?: () => number;
  /** Refresh this many seconds before expiry (clamped to half the token's lifetime). Default 60. */
  refreshMarginSeconds?: number;
  /** Refresh each used connection in the background before it expires. Default true. */
  proactiveRefresh?: boolean;
  /** Timeout of one request to an authorization server (token, discovery, revocation). Default 30 s. */
  requestTimeoutMs?: number;
  /** The lease of a refresh lock: renewed every third of it while its holder works. Default 15 s. */
  lockTtlMs?: number;
  /** Give up waiting for another process's refresh after this long (longer than a lease). Default 60 s. */
  lockWaitMs?: number;
  /** Never two token requests for one connection closer than this, but on demand. Default 1 s. */
  minRefreshIntervalMs?: number;
  /** The schedule of retries after a transient token-endpoint failure (5xx, 429, network, timeout). */
  tokenRetry?: Partial<BackoffPolicy>;
  /**
   * Timeout of one API request made through `fetch`, until its whole answer is read. Default:
   * Node's fetch's own (5 minutes to the headers, and between body chunks); setting one adds
   * an AbortSignal to every request, which costs about a tenth of loopback throughput.
   */
  apiTimeoutMs?: number;
  /** How long close() waits for a refresh under way to save its result. Default 10 s. */
  closeGraceMs?: number;
  /** Longest Retry-After that fetch waits out before returning the 429. Default 60 s. */
  maxRetryAfterSeconds?: number;
  /** Extra provider profiles. */
  providers?: ProviderProfile[];
  env?: NodeJS.ProcessEnv;
}

export interface KeeperSettings {
  clock: Clock;
  pacingClock: Clock;
  /** API requests, which stream. */
  fetch: typeof fetch;
  /**
   * Token, revocation and discovery requests, whose small answers are read whole: the
   * `fetch` option when given, else node:http (http/buffered-request.ts).
   */
  authServerFetch: BufferedFetch;
  random: () => number;
  env: NodeJS.ProcessEnv;
  refreshTiming: RefreshTimingOptions;
  proactiveRefresh: boolean;
  /** Every request to an authorization server: token, discovery, revocation (ms). */
  requestTimeoutMs: number;
  /** The GET that checks an authorization URL before a browser opens (ms). */
  preflightTimeoutMs: number;
  lock: {
    ttlMs: number;
    waitMs: number;
    /** How often to look at a lock someone else holds. */
    poll: BackoffPolicy;
  };
  /** The least time between two token requests for one connection that nobody forced. */
  minRefreshIntervalMs: number;
  /** After a transient failure: when the next attempt may run, while a valid token is still served. */
  tokenRetry: BackoffPolicy;
  /** Saving rotated tokens is retried this often, under the lock, before failing closed. */
  save: { attempts: number; backoff: BackoffPolicy };
  api: {
    /** Undefined: Node's fetch's own timeouts. */
    timeoutMs: number | undefined;
    /** Retries of an idempotent request after a network error, 502, 503 or 504. */
    maxRetries: number;
    backoff: BackoffPolicy;
  };
  rateLimit: {
    maxRetryAfterMs: number;
    /** 429s in a row that fetch waits out before returning one. */
    maxRetries: number;
    /** The wait after a 429 that did not say how long. */
    backoff: BackoffPolicy;
  };
  maxRedirects: number;
  closeGraceMs: number;
}

export const DEFAULTS = {
  requestTimeoutMs: 30_000,
  preflightTimeoutMs: 15_000,
  lockTtlMs: 15_000,
  lockWaitMs: 60_000,
  maxRetryAfterSeconds: 60,
  minRefreshIntervalMs: 1_000,
  closeGraceMs: 10_000,
  lockPoll: { initialMs: 10, factor: 2, maxMs: 250, jitter: 'spread' },
  // Full jitter: many processes that failed together must not come back together.
  tokenRetry: { initialMs: 1_000, factor: 2, maxMs: 60_000, jitter: 'full' },
  saveRetry: { initialMs: 100, factor: 2, maxMs: 1_000, jitter: 'full' },
  saveAttempts: 4,
  apiRetry: { initialMs: 500, factor: 2, maxMs: 5_000, jitter: 'full' },
  maxApiRetries: 2,
  // No jitter: one client retrying one request.
  rateLimitBackoff: { initialMs: 1_000, factor: 2, maxMs: 60_000, jitter: 'none' },
  maxRateLimitRetries: 2,
  maxRedirects: 5,
} as const satisfies Record<string, number | BackoffPolicy>;

export function resolveKeeperOptions(options: KeeperOptions): KeeperSettings {
  checkOptionTypes(options);
  // Whole milliseconds: AbortSignal.timeout throws a RangeError for a fraction.
  const requestTimeoutMs = Math.ceil(
    positive(options.requestTimeoutMs, DEFAULTS.requestTimeoutMs, 'requestTimeoutMs'),
  );
  const margin = options.refreshMarginSeconds;
  if (margin !== undefined && !(Number.isFinite(margin) && margin >= 0)) {
    throw new ConfigError(`refreshMarginSeconds must be a number of seconds >= 0, got ${String(margin)}.`);
  }
  return {
    clock: options.clock ?? systemClock,
    pacingClock: options.pacingClock ?? systemClock,
    fetch: options.fetch ?? globalThis.fetch,
    authServerFetch: options.fetch ? bufferedThrough(options.fetch) : bufferedRequest,
    random: options.random ?? Math.random,
    env: options.env ?? process.env,
    refreshTiming: {
      ...defaultRefreshTiming,
      ...(margin !== undefined ? { marginMs: margin * 1000 } : {}),
    },
    proactiveRefresh: options.proactiveRefresh !== false,
    requestTimeoutMs,
    preflightTimeoutMs: Math.min(DEFAULTS.preflightTimeoutMs, requestTimeoutMs),
    lock: {
      ttlMs: positive(options.lockTtlMs, DEFAULTS.lockTtlMs, 'lockTtlMs', { min: 1 }),
      waitMs: positive(options.lockWaitMs, DEFAULTS.lockWaitMs, 'lockWaitMs'),
      poll: DEFAULTS.lockPoll,
    },
    minRefreshIntervalMs: positive(
      options.minRefreshIntervalMs,
      DEFAULTS.minRefreshIntervalMs,
      'minRefreshIntervalMs',
      { zeroAllowed: true },
    ),
    tokenRetry: backoffPolicy(options.tokenRetry, DEFAULTS.tokenRetry, 'tokenRetry'),
    save: { attempts: DEFAULTS.saveAttempts, backoff: DEFAULTS.saveRetry },
    api: {
      timeoutMs:
        options.apiTimeoutMs === undefined ? undefined : positive(options.apiTimeoutMs, 1, 'apiTimeoutMs'),
      maxRetries: DEFAULTS.maxApiRetries,
      backoff: DEFAULTS.apiRetry,
    },
    rateLimit: {
      maxRetryAfterMs:
        positive(options.maxRetryAfterSeconds, DEFAULTS.maxRetryAfterSeconds, 'maxRetryAfterSeconds', {
          zeroAllowed: true,
          max: MAX_TIMER_MS / 1000,
        }) * 1000,
      maxRetries: DEFAULTS.maxRateLimitRetries,
      backoff: DEFAULTS.rateLimitBackoff,
    },
    maxRedirects: DEFAULTS.maxRedirects,
    closeGraceMs: positive(options.closeGraceMs, DEFAULTS.closeGraceMs, 'closeGraceMs', {
      zeroAllowed: true,
    }),
  };
}

/** What a TokenStore object must have; the optional parts (dueIndex, watchChanges, …) are asked for when used. */
const TOKEN_STORE_METHODS = [
  'get',
  'list',
  'put',
  'delete',
  'tryLock',
  'renewLock',
  'unlock',
  'close',
] as const;
const CLOCK_METHODS = ['now', 'setTimer', 'sleep'] as const;

/** Every option createKeeper reads; the `satisfies` keeps it in step with KeeperOptions. */
const KEEPER_OPTIONS = Object.keys({
  store: true,
  encryptionKey: true,
  previousEncryptionKeys: true,
  clock: true,
  pacingClock: true,
  fetch: true,
  random: true,
  refreshMarginSeconds: true,
  proactiveRefresh: true,
  requestTimeoutMs: true,
  lockTtlMs: true,
  lockWaitMs: true,
  minRefreshIntervalMs: true,
  tokenRetry: true,
  apiTimeoutMs: true,
  closeGraceMs: true,
  maxRetryAfterSeconds: true,
  providers: true,
  env: true,
} satisfies Record<keyof KeeperOptions, true>);

/**
 * Options of the wrong type are refused here, with the option's name, rather than as a
 * TypeError deep inside the first request (or, for a flag, silently read as true).
 */
function checkOptionTypes(options: KeeperOptions): void {
  if (options === null || typeof options !== 'object') {
    throw new ConfigError(`createKeeper takes an options object (or nothing), got ${kindOf(options)}.`);
  }
  refuseUnknownKeys(options, KEEPER_OPTIONS, { owner: 'createKeeper', key: 'option' });
  const { store } = options;
  if (store !== undefined && typeof store !== 'string') {
    const missing = methodsMissing(store, TOKEN_STORE_METHODS);
    if (missing.length > 0) {
      throw new ConfigError(
        'store must be a location string (a file path, `memory:`, `postgres://…` or `redis://…`) or a TokenStore ' +
          `object (with ${TOKEN_STORE_METHODS.join(', ')}), got ${
            typeof store === 'object' && store !== null
              ? `an object without ${missing.join(', ')}`
              : kindOf(store)
          }.`,
      );
    }
  }
  const previous: unknown = options.previousEncryptionKeys;
  if (
    previous !== undefined &&
    !(Array.isArray(previous) && previous.every((key) => typeof key === 'string' || Buffer.isBuffer(key)))
  ) {
    throw new ConfigError(
      'previousEncryptionKeys must be an array of keys, each a Buffer of 32 bytes or its base64 or hex ' +
        `(e.g. [process.env.OLD_KEY]), got ${Array.isArray(previous) ? 'an array with other values' : kindOf(previous)}.`,
    );
  }
  const providers: unknown = options.providers;
  if (providers !== undefined && !Array.isArray(providers)) {
    throw new ConfigError(
      `providers must be an array of provider profiles (e.g. [{ ...genericOAuth2Profile, id: 'acme' }]), got ${kindOf(providers)}.`,
    );
  }
  for (const name of ['fetch', 'random'] as const) {
    const value: unknown = options[name];
    if (value !== undefined && typeof value !== 'function') {
      throw new ConfigError(
        `${name} must be a function${name === 'fetch' ? ' with the signature of globalThis.fetch' : ' returning a number in [0, 1)'}, got ${kindOf(value)}.`,
      );
    }
  }
  for (const name of ['clock', 'pacingClock'] as const) {
    const value: unknown = options[name];
    if (value !== undefined && methodsMissing(value, CLOCK_METHODS).length > 0) {
      throw new ConfigError(
        `${name} must be a Clock (with ${CLOCK_METHODS.join(', ')}), such as systemClock or a FakeClock, got ${kindOf(value)}.`,
      );
    }
  }
  const proactive: unknown = options.proactiveRefresh;
  if (proactive !== undefined && typeof proactive !== 'boolean') {
    throw new ConfigError(`proactiveRefresh must be true or false, got ${kindOf(proactive)}.`);
  }
  const env: unknown = options.env;
  if (env !== undefined && (env === null || typeof env !== 'object')) {
    throw new ConfigError(
      `env must be an object of environment variables (like process.env), got ${kindOf(env)}.`,
    );
  }
}

function methodsMissing(value: unknown, methods: readonly string[]): string[] {
  if (value === null || typeof value !== 'object') return [...methods];
  return methods.filter((method) => typeof (value as Record<string, unknown>)[method] !== 'function');
}

/**
 * A plain JavaScript caller has no type check: a mistyped key (`refreshMargin` for
 * `refreshMarginSeconds`) would be ignored and its default used without a word.
 */
export function refuseUnknownKeys(
  given: object,
  known: readonly string[],
  where: { owner: string; key: string },
): void {
  for (const key of Object.keys(given)) {
    if (known.includes(key)) continue;
    throw new ConfigError(
      `${where.owner} has no ${where.key} ${JSON.stringify(key)}${meantOf(key, known)} It takes ${known.join(', ')}.`,
    );
  }
}

/** `: did you mean "x"?` for the known name closest to a mistyped one, else `.`. */
export function meantOf(typed: string, known: readonly string[]): string {
  const close = didYouMean(typed, known);
  return close ? `: did you mean ${JSON.stringify(close)}?` : '.';
}

/** How a wrong value is named in a message: its kind, never its content (it may be a secret). */
export function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'string':
      return 'a string';
    case 'object':
      return 'an object';
    case 'undefined':
      return 'nothing';
    default:
      return `a ${typeof value}`;
  }
}

function backoffPolicy(
  given: Partial<BackoffPolicy> | undefined,
  fallback: BackoffPolicy,
  name: string,
): BackoffPolicy {
  const policy = { ...fallback, ...given };
  positive(policy.initialMs, fallback.initialMs, `${name}.initialMs`);
  positive(policy.maxMs, fallback.maxMs, `${name}.maxMs`);
  if (!(Number.isFinite(policy.factor) && policy.factor >= 1)) {
    throw new ConfigError(`${name}.factor must be a number >= 1, got ${policy.factor}.`);
  }
  if (!['none', 'full', 'spread'].includes(policy.jitter)) {
    throw new ConfigError(`${name}.jitter must be none, full or spread, got ${String(policy.jitter)}.`);
  }
  return policy;
}

/** The longest wait a timer can hold (about 24.8 days): past it, setTimeout fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** `value` checked as a duration or count (ConfigError saying what is wrong), else `fallback`. */
export function positive(
  value: number | undefined,
  fallback: number,
  name: string,
  {
    zeroAllowed = false,
    min = 0,
    max = MAX_TIMER_MS,
  }: { zeroAllowed?: boolean; min?: number; max?: number } = {},
): number {
  if (value === undefined) return fallback;
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value < min ||
    value > max ||
    (!zeroAllowed && value <= 0)
  ) {
    throw new ConfigError(
      `${name} must be a positive number${min > 0 ? ` of at least ${min}` : ''} and at most ${max}, got ${String(value)}.`,
    );
  }
  return value;
}
