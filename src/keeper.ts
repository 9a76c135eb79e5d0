/**
 * createKeeper(): a map of sessions by connection name, plus the operations on
 * connections as a whole (connect, list, info, forget, logout, whoami).
 *
 * The hot path, `getAccessToken` on a fresh token, is one Map lookup and one
 * clock read: no I/O, no lock. Everything else (store reads, locks, grants)
 * happens in the session only when a token is stale, was rejected, or is missing.
 */
import { type ConnectionInfo, type ConnectionRecord, clientConfigOf, infoOf } from './connection.js';
import type { ConnectionSpec } from './connection-spec.js';
import { ConfigError, KeeperClosedError, TokenkeeperError } from './errors.js';
import { KeeperEventEmitter, type KeeperEventName, type KeeperEvents } from './events.js';
import {
  type AuthorizationCodeResult,
  type FirstTokens,
  type GrantStrategy,
  grantStrategy,
} from './grants/strategies.js';
import type { ForwardedResponse, ForwardRequest } from './http/forward.js';
import type { Identity } from './identity.js';
import { type KeeperOptions, kindOf, positive, refuseUnknownKeys, resolveKeeperOptions } from './options.js';
import { ProviderRegistry } from './providers/registry.js';
import type { ProviderProfile } from './providers/types.js';
import { type Lease, withLease } from './refresh/lease.js';
import { connectionNotFound } from './refresh/refresher.js';
import type { RekeyResult } from './rekey.js';
import { SessionServices } from './session/services.js';
import { ConnectionSession, type KeeperCredential, SessionClosedError } from './session/session.js';
import { validateName } from './store/validate.js';
import { decodeJwtPayload, type TokenSet } from './token-set.js';

export type { ConnectionSpec } from './connection-spec.js';
export type { KeeperOptions } from './options.js';
export type { RekeyFailure, RekeyResult } from './rekey.js';
export type { KeeperCredential } from './session/session.js';

/** A work whose session is let go of this many times in a row fails: the store keeps changing under it. */
const SESSION_ATTEMPTS = 3;

/** What `logout` did at the provider. */
export interface LogoutResult {
  /** Whether tokens were revoked at the provider (false: it has no revocation endpoint, or nothing to revoke). */
  revoked: boolean;
}

/** What `close` may wait for. */
export interface CloseOptions {
  /**
   * How long a refresh under way may still take to save its tokens (default `closeGraceMs`):
   * what is left of a shutdown budget the caller has already spent part of.
   */
  graceMs?: number;
}

/** What `connect` tells the person's browser step about the authorization server. */
export interface AuthorizationPrompt {
  connection: string;
  authorizationUrl: string;
  clientId: string;
  scope?: string;
  /** Send a PKCE S256 challenge (the profile says so, or the server's metadata). */
  pkce: boolean;
  /** Issuer identifier, when known from discovery (checked in the response, RFC 9207). */
  issuer?: string;
  /** The keeper's fetch and timeout, for checking the authorization URL before a browser opens. */
  fetch: typeof fetch;
  preflightTimeoutMs: number;
}

/** How `connect` gets what the spec does not carry: the browser step, or the saved connection. */
export interface ConnectOptions {
  /**
   * For grants that need a person in a browser (authorization code) when the spec
   * carries no `authorizationCode`: called once the endpoints are known (after
   * discovery), it returns what came back to the redirect URI. The CLI's browser
   * login is one; a web application sends its own redirect instead.
   */
  authorize?(prompt: AuthorizationPrompt): Promise<AuthorizationCodeResult>;
  /**
   * Logging in again: what the spec leaves out is taken from the connection saved under
   * this name, when it has the same provider and grant: endpoints, client id, scope, client
   * secret (for the same client id), user name, and password (for the same user). So
   * `tokenkeeper login acme` asks only for what is missing, such as a new password. A saved
   * client secret or password goes only to the token endpoint's origin it was given for: a
   * spec that moves the connection elsewhere without them is refused (CONFIG).
   */
  reuseSaved?: boolean;
  /**
   * The command that starts this login over, named when the provider refuses it. The default,
   * `tokenkeeper login NAME`, works once a connection is saved; the CLI passes the whole
   * command of a new one (`tokenkeeper login NAME --provider …`), which is what works then.
   */
  loginHint?: string;
}

/** ConnectionInfo plus what only the sealed part of the record knows, cut to what is safe to show. */
export interface ConnectionDetails extends ConnectionInfo {
  /**
   * Whose credential it is: the user name a password-grant connection logs in with, else
   * the owner the provider's identity endpoint named at login or at the last whoami().
   */
  account?: string;
  /** The scopes the token endpoint granted, when it said. */
  grantedScope?: string;
  /** The first 4 characters of the credential, to tell credentials apart (as gh does). */
  credentialPrefix?: string;
  /**
   * False for a row sealed before its settings were sealed with its secrets (an older version
   * wrote it): nothing vouches for its clear settings until its next write, which
   * `tokenkeeper rekey` (keeper.rekey) makes at once.
   */
  settingsBound: boolean;
}

/** Always-fresh credentials for named connections; see createKeeper. */
export interface Keeper {
  /**
   * Saves a connection and obtains its first token. Replaces a connection of the same name.
   *
   * @example
   * await keeper.connect('acme', { provider: 'factus', environment: 'sandbox', clientId, clientSecret, username, password });
   */
  connect(name: string, spec: ConnectionSpec, options?: ConnectOptions): Promise<ConnectionInfo>;
  /** A fresh access token, refreshed first if needed. */
  getAccessToken(name: string): Promise<string>;
  /**
   * A fresh credential with the header it goes in, for HTTP clients other than `fetch`
   * (tokenkeeper/axios, /undici, /ky, /openapi-fetch). Reads the store once per new token.
   */
  credential(name: string): Promise<KeeperCredential>;
  /**
   * fetch() against the connection's base URL with its credentials: waits for a rate-limit
   * slot, renews once and retries on a 401, waits out a 429 as long as Retry-After says.
   *
   * @example
   * const response = await keeper.fetch('acme', '/v1/bills?page=1');
   */
  fetch(name: string, pathOrUrl: string | URL, init?: RequestInit): Promise<Response>;
  /**
   * Hands a request on to the connection as it came, over node:http, with fetch()'s rules
   * (credential, rate limits, 401, 429). For proxies: headers and a compressed body pass
   * through untouched, and the answer's body is a stream to pipe on. The caller's own
   * credential headers are dropped; hop-by-hop headers are the caller's to remove.
   */
  forward(name: string, request: ForwardRequest): Promise<ForwardedResponse>;
  /**
   * Replaces the tokens now, even if they look fresh. A scheduler that read the stored row
   * itself (`store.get`) and found it due passes `ifVersion`: the row is not read again
   * before the lock, and a row written since with a fresh token is taken as it is.
   */
  refresh(name: string, options?: { ifVersion?: number }): Promise<ConnectionInfo>;
  info(name: string): Promise<ConnectionInfo>;
  /** info() plus the account, granted scopes and the credential's first characters (needs the key). */
  details(name: string): Promise<ConnectionDetails>;
  list(): Promise<ConnectionInfo[]>;
  /** Forgets the connection locally, without telling the provider. */
  forget(name: string): Promise<boolean>;
  /** Revokes the tokens at the provider when it supports revocation (RFC 7009), then forgets the connection. */
  logout(name: string): Promise<LogoutResult>;
  /** Asks the provider who owns the connection's credential. */
  whoami(name: string): Promise<Identity>;
  /**
   * Seals every connection again under the current key, opening each with the current or a
   * previous key (`previousEncryptionKeys`, TOKENKEEPER_PREVIOUS_KEYS). Each one is re-sealed
   * under its refresh lock, so a refresh on another host is never lost. A connection saved
   * before its settings were sealed with its secrets is re-sealed even under the current key,
   * its clear settings sealed as they are. Connections that no key given opens, or whose
   * settings are refused (STORE_TAMPERED), are left as they were and listed in `failed`.
   */
  rekey(): Promise<RekeyResult>;
  /**
   * The id of the key this keeper seals under (a fingerprint, never the key): the one `rekey()`
   * moves every connection to. Rejects with STORE_KEY, saying what to do, when the store's key
   * is lost (a SQLite store whose key file is gone).
   */
  keyId(): Promise<string>;
  /**
   * Lets go of what this process holds for the connection (its token, its timers) without
   * touching the store: the next call reads the store again. For a long-running process
   * that learns of a change made elsewhere, such as a logout by the CLI.
   */
  release(name: string): void;
  /**
   * Ids of the `tokenkeeper serve` daemons whose heartbeat reaches this store (through its
   * shared due index); empty when none runs, or the store has no due index.
   */
  liveDaemons(): Promise<string[]>;
  /** The provider profile with this id: a built-in one, or one passed in `providers`. */
  profile(id: string): ProviderProfile;
  on<E extends KeeperEventName>(event: E, listener: (payload: KeeperEvents[E]) => void): () => void;
  /**
   * Stops every timer, lets a refresh under way save its tokens (bounded by `graceMs`, by
   * default `closeGraceMs`), and closes the store if the keeper opened it. Call it on
   * SIGINT/SIGTERM before exiting.
   */
  close(options?: CloseOptions): Promise<void>;
}

/**
 * Creates a keeper. Every option is optional; the store defaults to TOKENKEEPER_STORE,
 * else an encrypted SQLite file in the user's data directory.
 *
 * @example
 * const keeper = createKeeper();
 * const token = await keeper.getAccessToken('acme');
 */
export function createKeeper(options: KeeperOptions = {}): Keeper {
  return new TokenKeeper(options);
}

class TokenKeeper implements Keeper {
  readonly #sessions = new Map<string, ConnectionSession>();
  readonly #services: SessionServices;
  readonly #events = new KeeperEventEmitter();
  #closed = false;

  constructor(options: KeeperOptions) {
    const settings = resolveKeeperOptions(options);
    this.#services = new SessionServices(
      settings,
      new ProviderRegistry(options.providers),
      this.#events,
      options,
    );
  }

  async connect(name: string, given: ConnectionSpec, options: ConnectOptions = {}): Promise<ConnectionInfo> {
    this.#assertOpen();
    // The name and the spec's shape before the store is opened; the grant's fields (which a
    // saved connection may fill in) before anything is sent.
    validateName(name);
    const { buildConnectionRecord, checkConnectArguments, checkSavedSecretsStay, grantOf, withSavedSpec } =
      await import('./connection-spec.js');
    checkConnectArguments(given, options, this.#services.registry.ids());
    const { resolveConnectionEndpoints } = await import('./providers/connection-endpoints.js');
    const services = this.#services;
    const { repository } = await services.storage();
    // Before any request: a login that could not be saved must cost neither a token nor a browser step.
    repository.requireKey();
    const profile = this.profile(given.provider);
    const saved = options.reuseSaved ? (await repository.load(name))?.record : undefined;
    const spec = saved ? withSavedSpec(given, saved, profile) : given;
    const strategy = grantStrategy(grantOf(name, spec, profile)); // fail on a bad spec before any request
    const endpoints = await resolveConnectionEndpoints(
      profile,
      { ...spec, hasClientSecret: Boolean(spec.clientSecret) },
      { authServerFetch: services.settings.authServerFetch, timeoutMs: services.settings.requestTimeoutMs },
    );
    if (saved) checkSavedSecretsStay(name, given, spec, saved, endpoints.tokenUrl);
    let authorizationCode = spec.authorizationCode;
    if (strategy.needsBrowser && !authorizationCode && options.authorize) {
      if (!endpoints.authorizationUrl) {
        throw new ConfigError(
          'This provider has no authorization endpoint: pass --authorize-url (authorizationUrl), or use another grant.',
        );
      }
      authorizationCode = await options.authorize({
        connection: name,
        authorizationUrl: endpoints.authorizationUrl,
        clientId: spec.clientId ?? '',
        ...(spec.scope ? { scope: spec.scope } : {}),
        pkce: endpoints.pkce,
        ...(endpoints.issuer ? { issuer: endpoints.issuer } : {}),
        fetch: services.settings.fetch,
        preflightTimeoutMs: services.settings.preflightTimeoutMs,
      });
    }
    const now = services.clock.now();
    const record = buildConnectionRecord(
      name,
      { ...spec, ...(authorizationCode ? { authorizationCode } : {}) },
      profile,
      endpoints,
      now,
    );
    const tokens = await this.#firstTokens(strategy, record, spec, authorizationCode, options.loginHint);
    record.secrets.tokens = tokens.toJSON();
    record.lastRefreshAt = services.clock.now();
    // Under the connection's lock, so a refresh in flight cannot write its older login over this one.
    // Only the version is read: a connection whose secrets cannot be opened is replaced all the same.
    const version = await withLease(repository.store, name, services.settings, async (lease) =>
      repository.save(record, await repository.currentVersion(name), lease.owner),
    );
    if (version === undefined)
      throw new TokenkeeperError('STORE', `Could not save connection "${name}"; try again.`);
    this.#events.emit('token', { connection: name, grant: record.grant, expiresAt: tokens.expiresAt });
    this.#newSession(name).hold(record);
    return infoOf(record);
  }

  async #firstTokens(
    strategy: GrantStrategy,
    record: ConnectionRecord,
    spec: ConnectionSpec,
    authorizationCode: AuthorizationCodeResult | undefined,
    loginHint: string | undefined,
  ): Promise<TokenSet> {
    const services = this.#services;
    const first: FirstTokens = await strategy.firstTokens(
      {
        client: record.clientId ? () => clientConfigOf(record) : undefined,
        credentials: { ...record.secrets, ...(spec.apiKey ? { apiKey: spec.apiKey } : {}) },
        ...(record.scope ? { scope: record.scope } : {}),
        ...(authorizationCode ? { authorizationCode } : {}),
        connection: record.name,
        now: services.clock.now(),
      },
      {
        ...services.requestContext(record.name),
        loggingIn: true,
        ...(loginHint ? { loginHint } : {}),
      },
    );
    if (first.kind === 'response') {
      const tokens = services.toTokenSet(record, first.result);
      await this.#learnOwner(strategy, record, tokens);
      return tokens;
    }
    if (strategy.checkedAtLogin) await this.#checkWithProvider(strategy, record, first.tokens);
    return first.tokens;
  }

  /** Asks the provider's identity endpoint with tokens not saved yet; undefined when it has none. */
  async #identify(strategy: GrantStrategy, record: ConnectionRecord, tokens: TokenSet) {
    const profile = this.profile(record.provider);
    if (!profile.identityPaths?.length) return undefined;
    const credential = strategy.credential(tokens.accessToken, profile);
    const [{ requestIdentity }, http] = await Promise.all([import('./identity.js'), this.#services.http()]);
    // Counted in the connection's shared budget, as its session's requests are (session.ts).
    const limits = this.#services.sharedRateLimits;
    const options = http.requestOptionsFor(
      this.#services.settings,
      record.baseUrl,
      profile.rateLimits,
      profile.apiKeyHeader ? [profile.apiKeyHeader] : [],
      limits ? { limits, scope: record.name } : undefined,
    );
    const unrenewable = { current: () => credential, renew: async () => credential };
    return requestIdentity((path) => http.authFetch(options, unrenewable, path), profile.identityPaths);
  }

  /**
   * Notes who owns a new OAuth credential, so `status` can show it (as `gh auth login`
   * does). Best effort: a login never fails because the identity endpoint did.
   */
  async #learnOwner(strategy: GrantStrategy, record: ConnectionRecord, tokens: TokenSet): Promise<void> {
    if (record.secrets.username) return; // the account is the user name already
    try {
      const identity = await this.#identify(strategy, record, tokens);
      const owner = identity && (await import('./identity.js')).ownerOf(identity.body);
      if (owner) record.secrets.owner = owner;
    } catch {
      // Unknown owner: status simply shows none.
    }
  }

  /** Tries a credential that cannot be refreshed (an API key) before saving it. */
  async #checkWithProvider(
    strategy: GrantStrategy,
    record: ConnectionRecord,
    tokens: TokenSet,
  ): Promise<void> {
    try {
      const identity = await this.#identify(strategy, record, tokens);
      const owner = identity && (await import('./identity.js')).ownerOf(identity.body);
      if (owner) record.secrets.owner = owner;
    } catch (error) {
      if (error instanceof TokenkeeperError && (error.status === 401 || error.status === 403)) {
        const profile = this.profile(record.provider);
        const variable = profile.credentialEnv.apiKey;
        throw new ConfigError(
          `${profile.displayName} rejected the API key (HTTP ${error.status}); nothing was saved. Check the key${
            variable ? ` in ${variable}` : ''
          }.`,
          { status: error.status },
        );
      }
      throw error;
    }
  }

  getAccessToken(name: string): Promise<string> {
    const fresh = this.#sessions.get(name)?.freshToken();
    if (fresh !== undefined) return Promise.resolve(fresh);
    return this.#withSession(name, (session) => session.getAccessToken());
  }

  credential(name: string): Promise<KeeperCredential> {
    return this.#withSession(name, (session) => session.credential());
  }

  fetch(name: string, pathOrUrl: string | URL, init?: RequestInit): Promise<Response> {
    return this.#withSession(name, (session) => session.fetch(pathOrUrl, init));
  }

  forward(name: string, request: ForwardRequest): Promise<ForwardedResponse> {
    return this.#withSession(name, (session) => session.forward(request));
  }

  refresh(name: string, options: { ifVersion?: number } = {}): Promise<ConnectionInfo> {
    const { ifVersion } = options;
    if (ifVersion !== undefined && !(Number.isSafeInteger(ifVersion) && ifVersion > 0)) {
      return Promise.reject(
        new ConfigError(
          `ifVersion must be a stored row's version (an integer > 0), got ${String(ifVersion)}.`,
        ),
      );
    }
    // An API key is refused by the refresher, once it has read the connection.
    return this.#withSession(name, (session) => session.refresh(options.ifVersion));
  }

  async info(name: string): Promise<ConnectionInfo> {
    validateName(name);
    const { repository } = await this.#services.storage();
    const info = await repository.loadInfo(name);
    if (!info) throw connectionNotFound(name);
    return info;
  }

  async details(name: string): Promise<ConnectionDetails> {
    validateName(name);
    const { repository } = await this.#services.storage();
    const loaded = await repository.load(name);
    if (!loaded) throw connectionNotFound(name);
    const { record } = loaded;
    const tokens = record.secrets.tokens;
    const grantedScope = tokens && (tokens.scope ?? scopeClaim(decodeJwtPayload(tokens.accessToken)));
    return {
      ...infoOf(record),
      ...(loaded.keyId ? { keyId: loaded.keyId } : {}),
      ...(record.secrets.username || record.secrets.owner
        ? { account: record.secrets.username ?? record.secrets.owner }
        : {}),
      ...(grantedScope !== undefined ? { grantedScope } : {}),
      ...(tokens?.accessToken ? { credentialPrefix: tokens.accessToken.slice(0, 4) } : {}),
      settingsBound: !loaded.unbound,
    };
  }

  async list(): Promise<ConnectionInfo[]> {
    const { repository } = await this.#services.storage();
    return repository.listInfo();
  }

  async forget(name: string): Promise<boolean> {
    validateName(name);
    const { repository } = await this.#services.storage();
    this.#dropSession(name);
    return withLease(repository.store, name, this.#services.settings, (lease) =>
      this.#deleteUnderLease(name, lease, `Run \`tokenkeeper logout ${name} --local-only\` again.`),
    );
  }

  async logout(name: string): Promise<LogoutResult> {
    validateName(name);
    const { repository } = await this.#services.storage();
    return withLease(repository.store, name, this.#services.settings, async (lease) => {
      const loaded = await repository.load(name);
      if (!loaded) throw connectionNotFound(name);
      return this.#revokeAndDelete(loaded.record, lease);
    });
  }

  /**
   * Deletes, fenced by the lease: a logout paused past its lease (another process may have
   * logged in again meanwhile) deletes nothing, and says so.
   */
  async #deleteUnderLease(name: string, lease: Lease, whatNow: string): Promise<boolean> {
    const { repository } = await this.#services.storage();
    if (await repository.delete(name, lease.owner)) return true;
    // The clear row is enough to tell: forgetting needs no key.
    if ((await repository.currentVersion(name)) === 0) return false;
    throw new TokenkeeperError(
      'LOCK_TIMEOUT',
      `Connection "${name}" was changed by another process while this one held its lock past the lease ` +
        `(it was paused, or lost the store); nothing was deleted. ${whatNow}`,
      { connection: name },
    );
  }

  /** RFC 7009 revocation where the provider offers it, then the connection is forgotten. */
  async #revokeAndDelete(record: ConnectionRecord, lease: Lease): Promise<LogoutResult> {
    const { name } = record;
    const tokens = record.secrets.tokens;
    let revoked = false;
    if (record.revocationUrl && tokens && grantStrategy(record.grant).revocable) {
      const config = clientConfigOf(record);
      const ctx = this.#services.requestContext(name);
      const { revokeToken } = await import('./grants/revocation.js');
      // The refresh token first: revoking it also ends its access tokens at most servers.
      if (tokens.refreshToken) {
        await revokeToken(config, record.revocationUrl, tokens.refreshToken, 'refresh_token', ctx);
      }
      await revokeToken(config, record.revocationUrl, tokens.accessToken, 'access_token', ctx);
      revoked = true;
    }
    this.#dropSession(name);
    await this.#deleteUnderLease(
      name,
      lease,
      `${revoked ? 'Its tokens were revoked at the provider all the same. ' : ''}Run \`tokenkeeper logout ${name}\` again.`,
    );
    return { revoked };
  }

  async whoami(name: string): Promise<Identity> {
    validateName(name);
    const { repository } = await this.#services.storage();
    const loaded = await repository.load(name);
    if (!loaded) throw connectionNotFound(name);
    const profile = this.profile(loaded.record.provider);
    const endpoints = loaded.record.userinfoUrl ? [loaded.record.userinfoUrl] : (profile.identityPaths ?? []);
    if (endpoints.length === 0) {
      throw new ConfigError(
        `${profile.displayName} has no identity endpoint tokenkeeper knows of; \`tokenkeeper request ${name} GET <path>\` can call one you know.`,
      );
    }
    const { requestIdentity, ownerOf } = await import('./identity.js');
    const identity = await requestIdentity((endpoint) => this.fetch(name, endpoint), endpoints);
    const owner = loaded.record.secrets.username ? undefined : ownerOf(identity.body);
    if (owner && owner !== loaded.record.secrets.owner) await this.#rememberOwner(name, loaded.record, owner);
    return identity;
  }

  /**
   * Saves a newly learnt owner, under the connection's lease so that it cannot race a
   * refresh, and only into the login it was learnt for. Best effort: whoami has answered.
   */
  async #rememberOwner(name: string, learntFor: ConnectionRecord, owner: string): Promise<void> {
    const { repository } = await this.#services.storage();
    await withLease(repository.store, name, this.#services.settings, async (lease) => {
      const current = await repository.load(name);
      if (!current || current.record.generation !== learntFor.generation) return;
      current.record.secrets.owner = owner;
      await repository.save(current.record, current.version, lease.owner);
    }).catch(() => undefined);
  }

  async rekey(): Promise<RekeyResult> {
    this.#assertOpen();
    const [{ repository }, { rekeyConnections }] = await Promise.all([
      this.#services.storage(),
      import('./rekey.js'),
    ]);
    return rekeyConnections(repository, this.#services.settings);
  }

  async keyId(): Promise<string> {
    const { repository } = await this.#services.storage();
    return repository.requireKey();
  }

  release(name: string): void {
    this.#dropSession(name);
  }

  async liveDaemons(): Promise<string[]> {
    const { repository } = await this.#services.storage();
    const index = repository.store.dueIndex;
    // Heartbeats are real time, like leases: the token clock may be a test's fake one.
    return index ? index.liveDaemons(this.#services.settings.pacingClock.now()) : [];
  }

  profile(id: string): ProviderProfile {
    return this.#services.registry.get(id);
  }

  on<E extends KeeperEventName>(event: E, listener: (payload: KeeperEvents[E]) => void): () => void {
    return this.#events.on(event, listener);
  }

  async close(options: CloseOptions = {}): Promise<void> {
    if (this.#closed) return;
    if (options === null || typeof options !== 'object')
      throw new ConfigError(`close() takes { graceMs }, got ${kindOf(options)}.`);
    refuseUnknownKeys(options, ['graceMs'], { owner: 'close()', key: 'option' });
    const graceMs = positive(options.graceMs, this.#services.settings.closeGraceMs, 'graceMs', {
      zeroAllowed: true,
    });
    this.#closed = true;
    for (const session of this.#sessions.values()) session.close();
    this.#sessions.clear();
    await this.#services.close(graceMs);
    this.#events.removeAll();
  }

  /**
   * Runs `work` on the connection's session; a session that ends up holding nothing is not kept.
   * A session closed under the work (released because another process changed the connection)
   * never sent a request it could not send again (see SessionClosedError): the work runs again
   * on a new session, which reads the store.
   */
  async #withSession<T>(name: string, work: (session: ConnectionSession) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      this.#assertOpen();
      const session = this.#sessions.get(name) ?? this.#newSession(validName(name));
      try {
        return await work(session);
      } catch (error) {
        if (error instanceof SessionClosedError && attempt < SESSION_ATTEMPTS) continue;
        if (!session.holdsToken && this.#sessions.get(name) === session) this.#dropSession(name);
        throw error;
      }
    }
  }

  #newSession(name: string): ConnectionSession {
    this.#sessions.get(name)?.close();
    const session = new ConnectionSession(name, this.#services);
    this.#sessions.set(name, session);
    return session;
  }

  #dropSession(name: string): void {
    this.#sessions.get(name)?.close();
    this.#sessions.delete(name);
  }

  #assertOpen(): void {
    if (this.#closed)
      throw new KeeperClosedError('This keeper was closed; create a new one with createKeeper().');
  }
}

/** A session is made only for a name a connection can have (the one rule, store/validate.ts). */
function validName(name: string): string {
  validateName(name);
  return name;
}

/** The scopes a JWT access token carries (`scope` as a string, or Passport's `scopes` array). */
function scopeClaim(claims: Record<string, unknown> | undefined): string | undefined {
  if (typeof claims?.scope === 'string') return claims.scope;
  if (Array.isArray(claims?.scopes)) return claims.scopes.filter((s) => typeof s === 'string').join(' ');
  return undefined;
}
