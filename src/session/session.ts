/**
 * One connection's whole stack in a process: the token it holds, its renewal
 * (single-flight, back-off after failures, proactive refresh), and its
 * authenticated fetch with its rate-limit gate. golang/oauth2's shape:
 * `Transport{Source: ReuseTokenSource(src)}`: the fetch asks the token source,
 * never the other way round.
 *
 * A session keeps only what hands out and sends a token: the access token, its
 * expiry and where it goes. Refresh tokens, client secrets and passwords stay in
 * the store and are read there when a refresh needs them, so a process that
 * holds many connections holds little, and few secrets.
 */
import type { ConnectionInfo, ConnectionRecord } from '../connection.js';
import { infoOf } from '../connection.js';
import { ConfigError, StoreError, TokenkeeperError } from '../errors.js';
import { grantStrategy } from '../grants/strategies.js';
import type { GrantType } from '../grants/types.js';
import type { AuthFetchOptions, Credential, CredentialSource } from '../http/auth-fetch.js';
import { backoffDelay } from '../http/backoff.js';
import type { ForwardedResponse, ForwardRequest } from '../http/forward.js';
import { refreshAt } from '../refresh/refresh-timing.js';
import type { RefreshTrigger } from '../refresh/refresher.js';
import type { Schedulable } from './refresh-scheduler.js';
import type { SessionHttp, SessionServices } from './services.js';

/** A connection's current credential as it is sent; see Keeper.credential. */
export interface KeeperCredential {
  accessToken: string;
  /** As the token endpoint said (e.g. "Bearer"), or "ApiKey". */
  tokenType: string;
  /** Absolute expiry (ms since the epoch); null: never expires. */
  expiresAt: number | null;
  /** The header it goes in, e.g. `authorization: Bearer …` or `x-api-key: …`. */
  header: { name: string; value: string };
  /** Whether a rejected credential can be renewed (false for an API key). */
  refreshable: boolean;
  /** The origin of the connection's API (`https://api.example.com`): the only place it is sent. */
  origin: string;
}

/** The token a session hands out, and what sending it needs. Never a refresh token or secret. */
export interface HeldToken {
  readonly accessToken: string;
  /** Absolute expiry (ms since the epoch); null: never expires. */
  readonly expiresAt: number | null;
  /** From this instant on, the token is renewed before use. */
  readonly staleAt: number;
  /** When the request for it started. */
  readonly obtainedAt: number;
  readonly baseUrl: string;
  readonly provider: string;
  readonly grant: GrantType;
  /** As the token endpoint said (e.g. "Bearer"), or "ApiKey". */
  readonly tokenType: string;
}

interface Failing {
  /** Consecutive failed renewals. */
  count: number;
  retryNotBefore: number;
  lastError: TokenkeeperError;
}

interface Renewal {
  token: HeldToken;
  /** The record the token came from, when it came from the store or the provider. */
  record?: ConnectionRecord;
}

/** Per-request options and the credential of the current token, built once each. */
interface SessionRequests {
  options: AuthFetchOptions;
  forToken: HeldToken | undefined;
  credentials: CredentialSource | undefined;
}

export class ConnectionSession implements Schedulable {
  dueAt: number | undefined = undefined;
  #token: HeldToken | undefined = undefined;
  #flight: Promise<Renewal> | undefined = undefined;
  #failing: Failing | undefined = undefined;
  #requests: SessionRequests | undefined = undefined;
  #closed = false;

  constructor(
    readonly name: string,
    private readonly services: SessionServices,
  ) {}

  /**
   * The hot path: field reads and a clock read, no I/O. Nothing is fresh while a renewal runs:
   * a forced or keep-alive refresh spends the refresh token while the held token still looks
   * fresh, and a provider with strict rotation (Factus) revokes that token as it does, so
   * callers wait for the new one instead of being handed one that is about to fail.
   */
  freshToken(): string | undefined {
    const token = this.#token;
    return token !== undefined && this.#flight === undefined && this.services.clock.now() < token.staleAt
      ? token.accessToken
      : undefined;
  }

  /** True while the session holds a token (it may be stale). */
  get holdsToken(): boolean {
    return this.#token !== undefined;
  }

  async getAccessToken(): Promise<string> {
    return this.freshToken() ?? (await this.#renew({ ...this.#seen() })).token.accessToken;
  }

  /** fetch() against the connection's base URL with its credential; see http/auth-fetch.ts. */
  async fetch(pathOrUrl: string | URL, init?: RequestInit): Promise<Response> {
    const { http, options, credentials } = await this.#requestContext();
    return http.authFetch(options, credentials, pathOrUrl, init);
  }

  /** A request handed on over node:http, with the same rules as fetch(); see http/forward.ts. */
  async forward(request: ForwardRequest): Promise<ForwardedResponse> {
    const { forward } = await this.services.forwarding();
    const { options, credentials } = await this.#requestContext();
    return forward(options, credentials, request);
  }

  async #requestContext(): Promise<{
    http: SessionHttp;
    options: AuthFetchOptions;
    credentials: CredentialSource;
  }> {
    const token =
      this.freshToken() !== undefined ? (this.#token as HeldToken) : (await this.#renew(this.#seen())).token;
    const http = await this.services.http();
    const requests = this.#requestsFor(token, http);
    return { http, options: requests.options, credentials: this.#credentialsFor(token, requests) };
  }

  /** The credential to send, and where: for HTTP clients that inject it themselves (see adapters/). */
  async credential(): Promise<KeeperCredential> {
    const token =
      this.freshToken() !== undefined ? (this.#token as HeldToken) : (await this.#renew(this.#seen())).token;
    const strategy = grantStrategy(token.grant);
    const { header, value } = strategy.credential(
      token.accessToken,
      this.services.registry.get(token.provider),
    );
    return {
      accessToken: token.accessToken,
      tokenType: token.tokenType,
      expiresAt: token.expiresAt,
      header: { name: header, value },
      refreshable: strategy.refreshable,
      origin: new URL(token.baseUrl).origin,
    };
  }

  /** Replaces the tokens now, even if they look fresh; see Keeper.refresh for `ifVersion`. */
  async refresh(ifVersion?: number): Promise<ConnectionInfo> {
    const renewal = await this.#renew({
      ...this.#seen(),
      force: true,
      ...(ifVersion !== undefined ? { ifVersion } : {}),
    });
    if (renewal.record) return infoOf(renewal.record);
    const { repository } = await this.services.storage();
    const loaded = await repository.load(this.name);
    if (!loaded) throw new TokenkeeperError('NOT_FOUND', `There is no connection named "${this.name}".`);
    return infoOf(loaded.record);
  }

  /** Takes the tokens of a record that was just saved or loaded, and schedules their refresh. */
  hold(record: ConnectionRecord): HeldToken {
    const data = record.secrets.tokens;
    if (!data) throw new StoreError(`Connection "${record.name}" has no tokens; log in again.`);
    const { settings, scheduler } = this.services;
    const token: HeldToken = {
      accessToken: data.accessToken,
      expiresAt: data.expiresAt,
      staleAt: refreshAt(data, settings.refreshTiming, settings.random(), settings.minRefreshIntervalMs),
      obtainedAt: data.obtainedAt,
      baseUrl: record.baseUrl,
      provider: record.provider,
      grant: record.grant,
      tokenType: data.tokenType,
    };
    this.#token = token;
    this.#failing = undefined;
    if (!this.#closed) scheduler?.schedule(this, token.staleAt);
    return token;
  }

  /** Stops the session's refreshes and lets go of its token. */
  close(): void {
    this.#closed = true;
    this.services.scheduler?.cancel(this);
    this.#token = undefined;
    this.#requests = undefined;
  }

  onDue(): void {
    if (this.#closed) return;
    // Failures are reported through events and retried by the back-off below.
    this.#renew(this.#seen()).catch(() => undefined);
  }

  #seen(): RefreshTrigger {
    const token = this.#token;
    return token !== undefined ? { seenAccessToken: token.accessToken } : {};
  }

  /**
   * At most one renewal at a time: callers that arrive meanwhile share its result. A caller
   * that only wanted a usable token gets the held one if a forced renewal fails while that
   * token is still valid, as it would have without the renewal.
   */
  #renew(trigger: RefreshTrigger): Promise<Renewal> {
    if (this.#closed) return Promise.reject(new SessionClosedError(this.name));
    const running = this.#flight;
    if (running) return trigger.force ? running : running.catch((error) => this.#heldDespite(error));
    const flight = this.#renewNow(trigger).finally(() => {
      this.#flight = undefined;
    });
    this.#flight = flight;
    return flight;
  }

  async #renewNow(trigger: RefreshTrigger): Promise<Renewal> {
    const held = this.#token;
    const failing = this.#failing;
    const { clock } = this.services;
    if (failing && clock.now() < failing.retryNotBefore && (!trigger.force || trigger.heedBackoff)) {
      // Recently failed: do not hammer the token endpoint; serve the old token while it is
      // valid, unless it is the one the provider just rejected.
      if (held && !isExpired(held, clock.now()) && !trigger.force) return { token: held };
      throw failing.lastError;
    }
    try {
      const current = await this.services.refresh(this.name, trigger);
      return { token: this.hold(current.record), record: current.record };
    } catch (error) {
      const recoverable =
        error instanceof TokenkeeperError && error.code !== 'REAUTH_REQUIRED' && error.code !== 'NOT_FOUND';
      if (!recoverable || !held) {
        if (!recoverable) this.#letGo();
        throw error;
      }
      const count = (failing?.count ?? 0) + 1;
      const { tokenRetry, random, minRefreshIntervalMs } = this.services.settings;
      const delay = Math.max(minRefreshIntervalMs, backoffDelay(tokenRetry, count - 1, random));
      const retryNotBefore = clock.now() + delay;
      this.#failing = { count, retryNotBefore, lastError: error };
      this.services.scheduler?.schedule(this, retryNotBefore);
      if (!isExpired(held, clock.now()) && !trigger.force) return { token: held };
      throw error;
    }
  }

  /** The held token while it is valid, else the failure; nothing is held after a non-recoverable one. */
  #heldDespite(error: unknown): Renewal {
    const held = this.#token;
    if (held && !isExpired(held, this.services.clock.now())) return { token: held };
    throw error;
  }

  /** The connection is gone or needs a person: hold nothing, schedule nothing. */
  #letGo(): void {
    this.services.scheduler?.cancel(this);
    this.#token = undefined;
    this.#failing = undefined;
  }

  #requestsFor(token: HeldToken, http: SessionHttp): SessionRequests {
    const current = this.#requests;
    if (current !== undefined && current.options.baseUrl === token.baseUrl) return current;
    const profile = this.services.registry.get(token.provider);
    const limits = this.services.sharedRateLimits;
    const options = http.requestOptionsFor(
      this.services.settings,
      token.baseUrl,
      profile.rateLimits,
      profile.apiKeyHeader ? [profile.apiKeyHeader] : [],
      // Counted per connection: a connection is one user or key of the provider.
      limits ? { limits, scope: this.name } : undefined,
      {
        onSlotWait: (waitedMs) =>
          this.services.events.emit('rate_limit_wait', { connection: this.name, waitedMs }),
        onRetryWait: (status, waitMs) =>
          this.services.events.emit('retry_wait', { connection: this.name, status, waitMs }),
      },
    );
    this.#requests = { options, forToken: undefined, credentials: undefined };
    return this.#requests;
  }

  /**
   * The credential of a token, and how to renew it after a 401; built once per token. A
   * request holds on to it while it waits (for a rate-limit slot, a Retry-After), so it
   * answers with the token held when the request goes out: the one it started with may have
   * been refreshed, and revoked, meanwhile. Only a token for the same base URL takes its
   * place: the request's URL was resolved against it.
   */
  #credentialsFor(token: HeldToken, requests: SessionRequests): CredentialSource {
    if (requests.forToken === token && requests.credentials) return requests.credentials;
    const credential = this.#credentialOf(token);
    const heldForThisUrl = () => {
      const latest = this.#token;
      return latest !== undefined && latest.baseUrl === token.baseUrl ? latest : undefined;
    };
    const credentials: CredentialSource = {
      current: () => {
        const latest = heldForThisUrl();
        return latest === undefined || latest === token ? credential : this.#credentialOf(latest);
      },
      renew: async (rejected, options) => {
        // Let go of meanwhile (another process changed the connection): the keeper asks again.
        if (this.#closed) throw new SessionClosedError(this.name);
        const latest = heldForThisUrl();
        // Someone already replaced the rejected token: use theirs, do not refresh again.
        if (latest && this.#credentialOf(latest).value !== rejected.value) return this.#credentialOf(latest);
        // A credential that cannot be renewed (an API key): the 401 goes back to the caller.
        if (!latest || !grantStrategy(latest.grant).refreshable) return rejected;
        // A token this young was just issued: a 401 on it is the API's answer, not an expiry,
        // unless another process has replaced it in the store already.
        const { clock, settings } = this.services;
        const young = clock.now() - latest.obtainedAt < settings.minRefreshIntervalMs;
        const renewed = await this.#renew(
          young || options?.adoptOnly
            ? { seenAccessToken: latest.accessToken, adoptOnly: true }
            : { seenAccessToken: latest.accessToken, force: true, heedBackoff: true },
        );
        return this.#credentialOf(renewed.token);
      },
    };
    requests.forToken = token;
    requests.credentials = credentials;
    return credentials;
  }

  #credentialOf(token: HeldToken): Credential {
    return grantStrategy(token.grant).credential(
      token.accessToken,
      this.services.registry.get(token.provider),
    );
  }
}

function isExpired(token: HeldToken, now: number): boolean {
  return token.expiresAt !== null && now >= token.expiresAt;
}

/**
 * The session was closed under its caller: let go of (keeper.release, a logout, a new login)
 * or the keeper closed. The keeper runs the caller's work again on a new session, which
 * reads the store: the connection's current token, or why there is none.
 */
export class SessionClosedError extends ConfigError {
  constructor(name: string) {
    super(
      `The session of "${name}" was closed (logout, forget, a new login, or keeper.close()); ask the keeper again.`,
    );
  }
}
