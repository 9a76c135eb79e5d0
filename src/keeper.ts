/**
 * createKeeper(): the facade that wires providers, store, grants, refresher and
 * the authenticated fetch together.
 *
 * The hot path, `getAccessToken` on a fresh token, is one Map lookup and one
 * clock read: no I/O, no lock. Everything else (store reads, locks, grants)
 * happens only when a token is stale, was rejected, or is missing.
 */
import { type Clock, systemClock } from './clock.js';
import { type ConnectionInfo, type ConnectionRecord, ConnectionRepository, infoOf } from './connection.js';
import type { ConnectionSpec } from './connection-spec.js';
import { ConfigError, TokenkeeperError } from './errors.js';
import { KeeperEventEmitter, type KeeperEventName, type KeeperEvents } from './events.js';
import { API_KEY_TOKEN_TYPE, apiKeyTokenSet } from './grants/api-key.js';
import { ConnectionGrants, clientConfigOf } from './grants/connection-grants.js';
import type { GrantResult, TokenRequestContext } from './grants/token-endpoint.js';
import type { AuthFetchOptions, Credential, CredentialSource } from './http/auth-fetch.js';
import type { RateLimitGates } from './http/rate-limit-gates.js';
import type { Identity } from './identity.js';
import { ProviderRegistry } from './providers/registry.js';
import type { ProviderProfile } from './providers/types.js';
import { defaultRefreshTiming, type RefreshTimingOptions } from './refresh/refresh-timing.js';
import { connectionNotFound, Refresher } from './refresh/refresher.js';
import { type CachedToken, TokenCache } from './refresh/token-cache.js';
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

export type { ConnectionSpec } from './connection-spec.js';

export interface LogoutResult {
  /** Whether tokens were revoked at the provider (false: it has no revocation endpoint, or nothing to revoke). */
  revoked: boolean;
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
  /** Forgets the connection locally, without telling the provider. */
  forget(name: string): Promise<boolean>;
  /** Revokes the tokens at the provider when it supports revocation (RFC 7009), then forgets the connection. */
  logout(name: string): Promise<LogoutResult>;
  /** Asks the provider who owns the connection's credential. */
  whoami(name: string): Promise<Identity>;
  on<E extends KeeperEventName>(event: E, listener: (payload: KeeperEvents[E]) => void): () => void;
  /** Stops every timer and closes the store if the keeper opened it. */
  close(): Promise<void>;
}

interface HttpLayer {
  authFetch: typeof import('./http/auth-fetch.js').authFetch;
  gates: RateLimitGates;
  options: Map<string, AuthFetchOptions>;
}

interface Storage {
  repository: ConnectionRepository;
  refresher: Refresher;
  ownsStore: boolean;
}

export function createKeeper(options: KeeperOptions = {}): Keeper {
  return new TokenKeeper(options);
}

class TokenKeeper implements Keeper {
  readonly #clock: Clock;
  readonly #fetch: typeof fetch;
  readonly #timing: RefreshTimingOptions;
  readonly #registry: ProviderRegistry;
  readonly #events = new KeeperEventEmitter();
  readonly #cache: TokenCache;
  /** Loaded on first request: a process that only reads tokens never needs it. */
  #http: HttpLayer | undefined;
  readonly #credentialSources = new WeakMap<CachedToken, CredentialSource>();
  readonly #grants: ConnectionGrants;
  #storage: Promise<Storage> | undefined;
  #closed = false;

  constructor(private readonly options: KeeperOptions) {
    this.#clock = options.clock ?? systemClock;
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#timing = {
      ...defaultRefreshTiming,
      ...(options.refreshMarginSeconds !== undefined
        ? { marginMs: options.refreshMarginSeconds * 1000 }
        : {}),
    };
    this.#registry = new ProviderRegistry(options.providers);
    this.#grants = new ConnectionGrants((record) => this.#requestContext(record));
    this.#cache = new TokenCache({
      clock: this.#clock,
      timing: this.#timing,
      random: options.random ?? Math.random,
      proactive: options.proactiveRefresh !== false,
      refresh: async (name, trigger) => (await this.#openStorage()).refresher.refresh(name, trigger),
    });
  }

  async connect(name: string, spec: ConnectionSpec): Promise<ConnectionInfo> {
    this.#assertOpen();
    const { buildConnectionRecord, grantOf, validateName } = await import('./connection-spec.js');
    const { resolveConnectionEndpoints } = await import('./providers/connection-endpoints.js');
    validateName(name);
    const { repository } = await this.#openStorage();
    const profile = this.#registry.get(spec.provider);
    grantOf(name, spec, profile); // fail on a bad spec before any request
    const endpoints = await resolveConnectionEndpoints(
      profile,
      { ...spec, hasClientSecret: Boolean(spec.clientSecret) },
      { fetch: this.#fetch, timeoutMs: this.options.requestTimeoutMs ?? 30_000 },
    );
    const record = buildConnectionRecord(name, spec, profile, endpoints, this.#clock.now());
    const tokens = await this.#firstTokens(record, spec);
    record.secrets.tokens = tokens.toJSON();
    record.lastRefreshAt = this.#clock.now();
    const existing = await repository.load(name);
    let version = await repository.save(record, existing?.version ?? 0);
    if (version === undefined) version = await repository.save(record, null);
    if (version === undefined)
      throw new TokenkeeperError('STORE', `Could not save connection "${name}"; try again.`);
    this.#drop(name);
    this.#events.emit('token', { connection: name, grant: record.grant, expiresAt: tokens.expiresAt });
    this.#cache.remember({ record, version });
    return infoOf(record);
  }

  /** The first tokens of a new connection, by its grant; an API key is checked with the provider first. */
  async #firstTokens(record: ConnectionRecord, spec: ConnectionSpec): Promise<TokenSet> {
    switch (record.grant) {
      case 'api_key': {
        const tokens = apiKeyTokenSet(spec.apiKey ?? '', this.#clock.now());
        await this.#verifyApiKey(record, tokens);
        return tokens;
      }
      case 'authorization_code': {
        if (!spec.authorizationCode) {
          throw new ConfigError(
            `The authorization code grant needs the code from the browser: run \`tokenkeeper login ${record.name}\`, or pass authorizationCode (see createAuthorizationRequest).`,
          );
        }
        return this.#toTokenSet(record, await this.#grants.exchangeCode(record, spec.authorizationCode));
      }
      default:
        return this.#toTokenSet(record, await this.#grants.primary(record));
    }
  }

  async #verifyApiKey(record: ConnectionRecord, tokens: TokenSet): Promise<void> {
    const profile = this.#registry.get(record.provider);
    if (!profile.identityPaths?.length) return;
    const credential = this.#credentialOf(record, tokens.accessToken, tokens.tokenType);
    const { requestIdentity } = await import('./identity.js');
    const http = await this.#loadHttp();
    try {
      await requestIdentity(
        (path) =>
          http.authFetch(
            this.#sendOptions(http, record),
            { current: () => credential, renew: async (rejected) => rejected },
            path,
          ),
        profile.identityPaths,
      );
    } catch (error) {
      if (error instanceof TokenkeeperError && (error.status === 401 || error.status === 403)) {
        throw new ConfigError(
          `${profile.displayName} rejected the API key (HTTP ${error.status}); nothing was saved. Check the key${
            profile.credentialEnv.apiKey ? ` in ${profile.credentialEnv.apiKey}` : ''
          }.`,
          { status: error.status },
        );
      }
      throw error;
    }
  }

  getAccessToken(name: string): Promise<string> {
    const fresh = this.#cache.freshToken(name);
    if (fresh !== undefined) return Promise.resolve(fresh);
    return this.#renew(name, this.#cache.get(name)?.accessToken).then((entry) => entry.accessToken);
  }

  async fetch(name: string, pathOrUrl: string | URL, init?: RequestInit): Promise<Response> {
    this.#assertOpen();
    await this.getAccessToken(name);
    const entry = this.#cache.get(name);
    if (!entry) throw connectionNotFound(name);
    const http = this.#http ?? (await this.#loadHttp());
    let credentials = this.#credentialSources.get(entry);
    if (!credentials) {
      credentials = this.#credentialSource(name, entry);
      this.#credentialSources.set(entry, credentials);
    }
    return http.authFetch(this.#sendOptions(http, entry.record), credentials, pathOrUrl, init);
  }

  /** The credential of a cached token, and how to renew it after a 401; built once per token. */
  #credentialSource(name: string, entry: CachedToken): CredentialSource {
    const current = (cached: CachedToken) =>
      this.#credentialOf(cached.record, cached.accessToken, cached.tokens.tokenType);
    const credential = current(entry);
    return {
      current: () => credential,
      renew: async (rejected) => {
        const latest = this.#cache.get(name);
        // Someone already replaced the rejected token: use theirs, do not refresh again.
        if (latest && current(latest).value !== rejected.value) return current(latest);
        // An API key cannot be renewed: the 401 goes back to the caller.
        if (!latest || latest.tokens.tokenType === API_KEY_TOKEN_TYPE) return rejected;
        return current(await this.#renew(name, latest.accessToken, { force: true }));
      },
    };
  }

  async #loadHttp(): Promise<HttpLayer> {
    if (!this.#http) {
      const [{ authFetch }, { RateLimitGates }] = await Promise.all([
        import('./http/auth-fetch.js'),
        import('./http/rate-limit-gates.js'),
      ]);
      this.#http ??= { authFetch, gates: new RateLimitGates(realSleep), options: new Map() };
    }
    return this.#http;
  }

  /** The per-connection part of every request, built once (see http/auth-fetch.ts). */
  #sendOptions(http: HttpLayer, record: ConnectionRecord): AuthFetchOptions {
    let options = http.options.get(record.name);
    if (!options || options.baseUrl !== record.baseUrl) {
      options = {
        fetch: this.#fetch,
        baseUrl: record.baseUrl,
        gate: http.gates.gateFor(record.name, this.#registry.get(record.provider)),
        // Pacing against a server's limits is real time, not the injected token clock.
        now: Date.now,
        sleep: realSleep,
        maxRetryAfterMs: (this.options.maxRetryAfterSeconds ?? 60) * 1000,
        maxRateLimitRetries: 2,
        maxRedirects: 5,
      };
      http.options.set(record.name, options);
    }
    return options;
  }

  #credentialOf(record: ConnectionRecord, token: string, tokenType: string): Credential {
    if (tokenType === API_KEY_TOKEN_TYPE) {
      const header = this.#registry.get(record.provider).apiKeyHeader ?? 'x-api-key';
      return { header, value: token };
    }
    return { header: 'authorization', value: `Bearer ${token}` };
  }

  async refresh(name: string): Promise<ConnectionInfo> {
    this.#assertOpen();
    const known = this.#cache.get(name)?.record ?? (await this.info(name));
    if (known.grant === 'api_key') {
      throw new ConfigError(
        `Connection "${name}" uses an API key, which does not expire: there is nothing to refresh.`,
      );
    }
    const entry = await this.#renew(name, this.#cache.get(name)?.accessToken, { force: true });
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

  async logout(name: string): Promise<LogoutResult> {
    const { repository } = await this.#openStorage();
    const loaded = await repository.load(name);
    if (!loaded) throw connectionNotFound(name);
    const { record } = loaded;
    const tokens = record.secrets.tokens;
    let revoked = false;
    if (record.revocationUrl && tokens && record.grant !== 'api_key') {
      const config = clientConfigOf(record);
      const ctx = this.#requestContext(record);
      const { revokeToken } = await import('./grants/revocation.js');
      // The refresh token first: revoking it also ends its access tokens at most servers.
      if (tokens.refreshToken) {
        await revokeToken(config, record.revocationUrl, tokens.refreshToken, 'refresh_token', ctx);
      }
      await revokeToken(config, record.revocationUrl, tokens.accessToken, 'access_token', ctx);
      revoked = true;
    }
    this.#drop(name);
    await repository.delete(name);
    return { revoked };
  }

  async whoami(name: string): Promise<Identity> {
    const { repository } = await this.#openStorage();
    const loaded = await repository.load(name);
    if (!loaded) throw connectionNotFound(name);
    const profile = this.#registry.get(loaded.record.provider);
    const endpoints = loaded.record.userinfoUrl ? [loaded.record.userinfoUrl] : (profile.identityPaths ?? []);
    if (endpoints.length === 0) {
      throw new ConfigError(
        `${profile.displayName} has no identity endpoint tokenkeeper knows of; \`tokenkeeper request ${name} GET <path>\` can call one you know.`,
      );
    }
    const { requestIdentity } = await import('./identity.js');
    return requestIdentity((endpoint) => this.fetch(name, endpoint), endpoints);
  }

  on<E extends KeeperEventName>(event: E, listener: (payload: KeeperEvents[E]) => void): () => void {
    return this.#events.on(event, listener);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#cache.close();
    this.#events.removeAll();
    const storage = await this.#storage?.catch(() => undefined);
    if (storage?.ownsStore) await storage.repository.store.close();
  }

  #renew(name: string, seenAccessToken: string | undefined, options: { force?: boolean } = {}) {
    this.#assertOpen();
    return this.#cache.renew(name, {
      ...(seenAccessToken !== undefined ? { seenAccessToken } : {}),
      ...(options.force ? { force: true } : {}),
    });
  }

  #drop(name: string): void {
    this.#cache.drop(name);
    this.#http?.gates.drop(name);
    this.#http?.options.delete(name);
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

function keyFor(store: TokenStore, key: Buffer | string | undefined, env: NodeJS.ProcessEnv): Buffer {
  const given = key ?? env.TOKENKEEPER_KEY;
  if (given !== undefined) return typeof given === 'string' ? parseEncryptionKey(given) : given;
  if (store.kind === 'memory') return generateEncryptionKey();
  throw new ConfigError(
    'A store passed as an object needs an encryption key: pass `encryptionKey` or set TOKENKEEPER_KEY (32 random bytes, base64: `openssl rand -base64 32`).',
  );
}
