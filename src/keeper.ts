/**
 * createKeeper(): the facade that wires providers, store, grants, refresher and
 * the authenticated fetch together.
 *
 * The hot path, `getAccessToken` on a fresh token, is one Map lookup and one
 * clock read: no I/O, no lock. Everything else (store reads, locks, grants)
 * happens only when a token is stale, was rejected, or is missing.
 */
import { type Clock, systemClock, type TimerHandle } from './clock.js';
import {
  type ConnectionInfo,
  type ConnectionRecord,
  ConnectionRepository,
  infoOf,
  type VersionedRecord,
} from './connection.js';
import { ConfigError, TokenkeeperError } from './errors.js';
import { KeeperEventEmitter, type KeeperEventName, type KeeperEvents } from './events.js';
import { ConnectionGrants } from './grants/connection-grants.js';
import type { GrantResult, TokenRequestContext } from './grants/token-endpoint.js';
import { authFetch, type Credential, type SlotGate } from './http/auth-fetch.js';
import { ruleApplies, SlidingWindowLimiter } from './http/rate-limiter.js';
import { resolveEndpoints } from './providers/endpoints.js';
import { ProviderRegistry } from './providers/registry.js';
import type { GrantType, ProviderProfile } from './providers/types.js';
import { defaultRefreshTiming, type RefreshTimingOptions, refreshAt } from './refresh/refresh-timing.js';
import { connectionNotFound, Refresher } from './refresh/refresher.js';
import { SingleFlight } from './refresh/single-flight.js';
import {
  createSecretBox,
  generateEncryptionKey,
  parseEncryptionKey,
  type SecretBox,
} from './store/encryption.js';
import { openStore } from './store/open-store.js';
import type { TokenStore } from './store/types.js';
import { type TokenResponseFields, TokenSet, type TokenSetData } from './token-set.js';

export interface KeeperOptions {
  /** A store, or where one lives (a path, `memory:`, `postgres://…`, `redis://…`). Default: TOKENKEEPER_STORE, else the SQLite file in the user's data directory. */
  store?: TokenStore | string;
  /** Encryption key (32 bytes, or its base64/hex) for a store passed as an instance. Default: TOKENKEEPER_KEY. */
  encryptionKey?: Buffer | string;
  clock?: Clock;
  fetch?: typeof fetch;
  /** Source of randomness in [0, 1) for jitter. */
  random?: () => number;
  /** Refresh this many seconds before expiry (clamped to half the token's lifetime). Default 60. */
  refreshMarginSeconds?: number;
  /** Refresh each used connection in the background before it expires. Default true. */
  proactiveRefresh?: boolean;
  /** Timeout of one token request. Default 30 s. */
  requestTimeoutMs?: number;
  /** A refresh lock is considered abandoned after this long. Default 60 s. */
  lockTtlMs?: number;
  /** Give up waiting for another process's refresh after this long. Default 45 s. */
  lockWaitMs?: number;
  /** Longest Retry-After that fetch waits out before returning the 429. Default 60 s. */
  maxRetryAfterSeconds?: number;
  /** Extra provider profiles. */
  providers?: ProviderProfile[];
  env?: NodeJS.ProcessEnv;
}

/** What `connect` needs: where, and the credentials of the chosen grant. Secrets are stored encrypted. */
export interface ConnectionSpec {
  provider: string;
  environment?: string;
  baseUrl?: string;
  grant?: GrantType;
  clientId?: string;
  clientSecret?: string;
  username?: string;
  password?: string;
  scope?: string;
}

export interface Keeper {
  /** Saves a connection and obtains its first token. Replaces a connection of the same name. */
  connect(name: string, spec: ConnectionSpec): Promise<ConnectionInfo>;
  /** A fresh access token, refreshed first if needed. */
  getAccessToken(name: string): Promise<string>;
  /** fetch() against the connection's base URL with its credentials; see http/auth-fetch.ts. */
  fetch(name: string, pathOrUrl: string | URL, init?: RequestInit): Promise<Response>;
  /** Replaces the tokens now, even if they look fresh. */
  refresh(name: string): Promise<ConnectionInfo>;
  info(name: string): Promise<ConnectionInfo>;
  list(): Promise<ConnectionInfo[]>;
  /** Forgets the connection locally. */
  forget(name: string): Promise<boolean>;
  on<E extends KeeperEventName>(event: E, listener: (payload: KeeperEvents[E]) => void): () => void;
  /** Stops every timer and closes the store if the keeper opened it. */
  close(): Promise<void>;
}

interface CachedToken {
  accessToken: string;
  tokens: TokenSet;
  /** From this instant on, the token is renewed before use. */
  staleAt: number;
  record: ConnectionRecord;
  /** Consecutive failed renewals, for back-off. */
  failures: number;
  retryNotBefore?: number;
  lastError?: TokenkeeperError;
}

interface Storage {
  repository: ConnectionRepository;
  refresher: Refresher;
  ownsStore: boolean;
}

const BACKOFF_BASE_MS = 1_000;
const BACKOFF_MAX_MS = 5 * 60_000;

export function createKeeper(options: KeeperOptions = {}): Keeper {
  return new TokenKeeper(options);
}

class TokenKeeper implements Keeper {
  readonly #clock: Clock;
  readonly #fetch: typeof fetch;
  readonly #random: () => number;
  readonly #timing: RefreshTimingOptions;
  readonly #registry: ProviderRegistry;
  readonly #events = new KeeperEventEmitter();
  readonly #flight = new SingleFlight<CachedToken>();
  readonly #cache = new Map<string, CachedToken>();
  readonly #timers = new Map<string, TimerHandle>();
  readonly #limiters = new Map<string, SlidingWindowLimiter[]>();
  readonly #grants: ConnectionGrants;
  #storage: Promise<Storage> | undefined;
  #closed = false;

  constructor(private readonly options: KeeperOptions) {
    this.#clock = options.clock ?? systemClock;
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#random = options.random ?? Math.random;
    this.#timing = {
      ...defaultRefreshTiming,
      ...(options.refreshMarginSeconds !== undefined
        ? { marginMs: options.refreshMarginSeconds * 1000 }
        : {}),
    };
    this.#registry = new ProviderRegistry(options.providers);
    this.#grants = new ConnectionGrants((record) => this.#requestContext(record));
  }

  async connect(name: string, spec: ConnectionSpec): Promise<ConnectionInfo> {
    this.#assertOpen();
    validateName(name);
    const { repository } = await this.#openStorage();
    const record = this.#newRecord(name, spec);
    const result = await this.#grants.primary(record);
    const tokens = this.#toTokenSet(record, result);
    record.secrets.tokens = tokens.toJSON();
    record.lastRefreshAt = this.#clock.now();
    const existing = await repository.load(name);
    let version = await repository.save(record, existing?.version ?? 0);
    if (version === undefined) version = await repository.save(record, null);
    if (version === undefined)
      throw new TokenkeeperError('STORE', `Could not save connection "${name}"; try again.`);
    this.#events.emit('token', { connection: name, grant: record.grant, expiresAt: tokens.expiresAt });
    this.#remember({ record, version });
    return infoOf(record);
  }

  getAccessToken(name: string): Promise<string> {
    const cached = this.#cache.get(name);
    if (cached !== undefined && this.#clock.now() < cached.staleAt)
      return Promise.resolve(cached.accessToken);
    return this.#renew(name, { seenAccessToken: cached?.accessToken }).then((entry) => entry.accessToken);
  }

  async fetch(name: string, pathOrUrl: string | URL, init?: RequestInit): Promise<Response> {
    this.#assertOpen();
    const credential = (accessToken: string): Credential => ({
      header: 'authorization',
      value: `Bearer ${accessToken}`,
    });
    const first = await this.getAccessToken(name);
    const entry = this.#cache.get(name);
    if (!entry) throw connectionNotFound(name);
    return authFetch(
      {
        fetch: this.#fetch,
        baseUrl: entry.record.baseUrl,
        credentials: {
          current: async () => credential(first),
          renew: async (rejected) => {
            const current = this.#cache.get(name)?.accessToken;
            // Someone already replaced the rejected token: use theirs, do not refresh again.
            if (current && credential(current).value !== rejected.value) return credential(current);
            const renewed = await this.#renew(name, {
              seenAccessToken: rejected.value.slice('Bearer '.length),
              force: true,
            });
            return credential(renewed.accessToken);
          },
        },
        gate: this.#gateFor(name, entry.record),
        // Pacing against a server's limits is real time, not the injected token clock.
        now: Date.now,
        sleep: realSleep,
        maxRetryAfterMs: (this.options.maxRetryAfterSeconds ?? 60) * 1000,
        maxRateLimitRetries: 2,
        maxRedirects: 5,
      },
      pathOrUrl,
      init,
    );
  }

  async refresh(name: string): Promise<ConnectionInfo> {
    this.#assertOpen();
    const entry = await this.#renew(name, {
      force: true,
      seenAccessToken: this.#cache.get(name)?.accessToken,
    });
    return infoOf(entry.record);
  }

  async info(name: string): Promise<ConnectionInfo> {
    const { repository } = await this.#openStorage();
    const loaded = await repository.load(name);
    if (!loaded) throw connectionNotFound(name);
    return infoOf(loaded.record);
  }

  async list(): Promise<ConnectionInfo[]> {
    const { repository } = await this.#openStorage();
    return repository.listInfo();
  }

  async forget(name: string): Promise<boolean> {
    const { repository } = await this.#openStorage();
    this.#drop(name);
    return repository.delete(name);
  }

  on<E extends KeeperEventName>(event: E, listener: (payload: KeeperEvents[E]) => void): () => void {
    return this.#events.on(event, listener);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const timer of this.#timers.values()) timer.cancel();
    this.#timers.clear();
    this.#cache.clear();
    this.#events.removeAll();
    const storage = await this.#storage?.catch(() => undefined);
    if (storage?.ownsStore) await storage.repository.store.close();
  }

  /** Renews once per connection at a time (single-flight), with back-off after failures. */
  #renew(
    name: string,
    trigger: { seenAccessToken?: string | undefined; force?: boolean },
  ): Promise<CachedToken> {
    this.#assertOpen();
    return this.#flight.run(name, async () => {
      const cached = this.#cache.get(name);
      const now = this.#clock.now();
      if (
        cached?.lastError &&
        cached.retryNotBefore !== undefined &&
        now < cached.retryNotBefore &&
        !trigger.force
      ) {
        // Recently failed: do not hammer the token endpoint; serve the old token while it is valid.
        if (!cached.tokens.isExpired(now)) return cached;
        throw cached.lastError;
      }
      const { refresher } = await this.#openStorage();
      try {
        const fresh = await refresher.refresh(name, {
          ...(trigger.seenAccessToken !== undefined ? { seenAccessToken: trigger.seenAccessToken } : {}),
          ...(trigger.force ? { force: true } : {}),
        });
        return this.#remember(fresh);
      } catch (error) {
        if (
          !(error instanceof TokenkeeperError) ||
          error.code === 'REAUTH_REQUIRED' ||
          error.code === 'NOT_FOUND'
        ) {
          this.#drop(name);
          throw error;
        }
        if (!cached) throw error;
        cached.failures++;
        cached.lastError = error;
        const backoff = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (cached.failures - 1));
        cached.retryNotBefore = this.#clock.now() + backoff;
        this.#schedule(name, backoff);
        if (!cached.tokens.isExpired(this.#clock.now()) && !trigger.force) return cached;
        throw error;
      }
    });
  }

  /** Caches a record's tokens and schedules its proactive refresh. */
  #remember(current: VersionedRecord): CachedToken {
    const { record } = current;
    const data = record.secrets.tokens;
    if (!data)
      throw new TokenkeeperError('STORE', `Connection "${record.name}" has no tokens; log in again.`);
    const tokens = new TokenSet(data);
    const entry: CachedToken = {
      accessToken: tokens.accessToken,
      tokens,
      staleAt: refreshAt(tokens, this.#timing, this.#random()),
      record,
      failures: 0,
    };
    this.#cache.set(record.name, entry);
    if (Number.isFinite(entry.staleAt)) this.#schedule(record.name, entry.staleAt - this.#clock.now());
    return entry;
  }

  #schedule(name: string, delayMs: number): void {
    if (this.options.proactiveRefresh === false || this.#closed) return;
    this.#timers.get(name)?.cancel();
    const timer = this.#clock.setTimer(
      () => {
        this.#timers.delete(name);
        if (this.#closed) return;
        const cached = this.#cache.get(name);
        // Failures are reported through events and retried by #renew's back-off.
        this.#renew(name, { seenAccessToken: cached?.accessToken }).catch(() => undefined);
      },
      Math.max(0, delayMs),
    );
    this.#timers.set(name, timer);
  }

  #drop(name: string): void {
    this.#timers.get(name)?.cancel();
    this.#timers.delete(name);
    this.#cache.delete(name);
    this.#limiters.delete(name);
  }

  #gateFor(name: string, record: ConnectionRecord): SlotGate {
    let limiters = this.#limiters.get(name);
    if (!limiters) {
      limiters = this.#registry
        .get(record.provider)
        .rateLimits.map((rule) => new SlidingWindowLimiter(rule, Date.now, realSleep));
      this.#limiters.set(name, limiters);
    }
    const applying = (method: string, path: string) =>
      limiters.filter((l) => ruleApplies(l.rule, method, path));
    return {
      acquire: async (method, path) => {
        for (const limiter of applying(method, path)) await limiter.acquire();
      },
      backOff: (method, path, ms) => {
        for (const limiter of applying(method, path)) limiter.backOff(ms);
      },
    };
  }

  #newRecord(name: string, spec: ConnectionSpec): ConnectionRecord {
    const profile = this.#registry.get(spec.provider);
    const grant = spec.grant ?? profile.defaultGrant;
    if (!profile.grants.includes(grant)) {
      throw new ConfigError(
        `${profile.displayName} does not support the ${grant} grant; use ${profile.grants.join(' or ')}.`,
      );
    }
    const missing = requiredFor(grant).filter((field) => !spec[field]);
    if (missing.length > 0) {
      throw new ConfigError(`The ${grant} grant needs ${missing.join(', ')} for connection "${name}".`);
    }
    const endpoints = resolveEndpoints(profile, {
      ...(spec.environment ? { environment: spec.environment } : {}),
      ...(spec.baseUrl ? { baseUrl: spec.baseUrl } : {}),
    });
    const environment = spec.baseUrl ? undefined : (spec.environment ?? profile.defaultEnvironment);
    return {
      name,
      provider: profile.id,
      ...(environment ? { environment } : {}),
      ...endpoints,
      grant,
      ...(spec.scope ? { scope: spec.scope } : {}),
      ...(spec.clientId ? { clientId: spec.clientId } : {}),
      clientAuthMethod: profile.clientAuthMethod,
      state: 'ok',
      createdAt: this.#clock.now(),
      secrets: {
        ...(spec.clientSecret ? { clientSecret: spec.clientSecret } : {}),
        ...(spec.username ? { username: spec.username } : {}),
        ...(spec.password ? { password: spec.password } : {}),
      },
    };
  }

  #toTokenSet(record: ConnectionRecord, result: GrantResult, previous?: TokenSetData): TokenSet {
    const profile = this.#registry.get(record.provider);
    return TokenSet.fromTokenResponse(result.response as unknown as TokenResponseFields, {
      requestStartedAt: result.requestStartedAt,
      ...(previous ? { previous } : {}),
      defaultLifetimeSeconds: profile.defaultTokenLifetimeSeconds,
      ...(profile.missingExpiryMeansNever ? { missingExpiryMeansNever: true } : {}),
    });
  }

  #requestContext(record: ConnectionRecord): TokenRequestContext {
    return {
      fetch: this.#fetch,
      now: () => this.#clock.now(),
      timeoutMs: this.options.requestTimeoutMs ?? 30_000,
      connection: record.name,
      loginHint: `tokenkeeper login ${record.name}`,
    };
  }

  #openStorage(): Promise<Storage> {
    this.#storage ??= this.#createStorage();
    return this.#storage;
  }

  async #createStorage(): Promise<Storage> {
    const env = this.options.env ?? process.env;
    const given = this.options.store;
    let store: TokenStore;
    let secretBox: SecretBox;
    let ownsStore = false;
    if (given === undefined || typeof given === 'string') {
      ({ store, secretBox } = await openStore(given ?? (env.TOKENKEEPER_STORE || undefined), { env }));
      ownsStore = true;
    } else {
      store = given;
      secretBox = createSecretBox(keyFor(given, this.options.encryptionKey, env));
    }
    const repository = new ConnectionRepository(store, secretBox);
    const refresher = new Refresher({
      repository,
      grants: this.#grants,
      clock: this.#clock,
      timing: this.#timing,
      events: this.#events,
      toTokenSet: (record, result, previous) => this.#toTokenSet(record, result, previous),
      lockTtlMs: this.options.lockTtlMs ?? 60_000,
      lockWaitMs: this.options.lockWaitMs ?? 45_000,
    });
    return { repository, refresher, ownsStore };
  }

  #assertOpen(): void {
    if (this.#closed)
      throw new TokenkeeperError('CONFIG', 'This keeper was closed; create a new one with createKeeper().');
  }
}

function realSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function requiredFor(grant: GrantType): Array<keyof ConnectionSpec> {
  switch (grant) {
    case 'password':
      return ['clientId', 'username', 'password'];
    case 'client_credentials':
      return ['clientId'];
    default:
      return [];
  }
}

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function validateName(name: string): void {
  if (!NAME_PATTERN.test(name)) {
    throw new ConfigError(
      `"${name}" is not a valid connection name: use 1-64 letters, digits, dots, dashes or underscores, starting with a letter or digit.`,
    );
  }
}

function keyFor(store: TokenStore, key: Buffer | string | undefined, env: NodeJS.ProcessEnv): Buffer {
  const given = key ?? env.TOKENKEEPER_KEY;
  if (given !== undefined) return typeof given === 'string' ? parseEncryptionKey(given) : given;
  if (store.kind === 'memory') return generateEncryptionKey();
  throw new ConfigError(
    'A store passed as an object needs an encryption key: pass `encryptionKey` or set TOKENKEEPER_KEY (32 random bytes, base64: `openssl rand -base64 32`).',
  );
}
