/**
 * Obtains new tokens for a connection safely when several callers, processes or
 * hosts want them at the same moment:
 *
 *   take the store lock (owner token) → re-read the store: did someone else
 *   refresh? adopt it → otherwise run the grant → persist (compare-and-set)
 *   → release the lock (compare-and-delete).
 *
 * A rejected refresh token is not a death sentence at once: the store is read
 * again (a sibling may have rotated it), then a connection that holds the user's
 * credentials logs in again by itself; only then is it marked for re-login.
 * In-process de-duplication (single-flight) is the caller's job (the session).
 */
import {
  type ConnectionRecord,
  type ConnectionRepository,
  clientConfigOf,
  loginInputOf,
  type VersionedRecord,
} from '../connection.js';
import {
  ConfigError,
  KeeperClosedError,
  ReauthRequiredError,
  StoreError,
  TokenkeeperError,
} from '../errors.js';
import type { KeeperEventEmitter } from '../events.js';
import { grantStrategy } from '../grants/strategies.js';
import type { GrantResult, TokenRequestContext } from '../grants/token-endpoint.js';
import { backoffDelay, longestDelay } from '../http/backoff.js';
import type { KeeperSettings } from '../options.js';
import type { TokenSet, TokenSetData } from '../token-set.js';
import { isTerminalOAuthError, isTransient } from './failures.js';
import { acquireLease, type Lease } from './lease.js';
import { isFresh } from './refresh-timing.js';
import { backingOffError, readSharedBackoff, type SharedBackoff } from './shared-backoff.js';

export interface RefreshTrigger {
  /**
   * The access token the caller holds and wants replaced (expired, or rejected
   * with a 401). A stored token that differs from it and is fresh is adopted.
   */
  seenAccessToken?: string;
  /** Replace the tokens even if they look fresh (`tokenkeeper refresh`). */
  force?: boolean;
  /**
   * A forced refresh that still waits out the back-off after failures (the renewal a 401
   * asks for): every caller's 401 while the provider fails must not become a token request.
   * Only a person's `refresh` skips the back-off.
   */
  heedBackoff?: boolean;
  /** Only take a newer token another process saved; never ask the provider. */
  adoptOnly?: boolean;
  /**
   * The caller read the stored connection at this version and judged it due (the daemon's
   * schedule): the refresh goes straight to the lock, without reading the row first. A row
   * written since (another refresh, a login) is taken as it is if its token is fresh.
   */
  ifVersion?: number;
}

export interface RefresherOptions {
  repository: ConnectionRepository;
  settings: Pick<
    KeeperSettings,
    | 'clock'
    | 'pacingClock'
    | 'random'
    | 'refreshTiming'
    | 'lock'
    | 'minRefreshIntervalMs'
    | 'tokenRetry'
    | 'save'
  >;
  events: KeeperEventEmitter;
  /** Builds a TokenSet from a grant result, with the provider's expiry rules. */
  toTokenSet(record: ConnectionRecord, result: GrantResult, previous?: TokenSetData): TokenSet;
  /** Timeout, fetch and wording of the token requests made for this connection. */
  requestContext(record: ConnectionRecord): TokenRequestContext;
}

type Obtained =
  | { kind: 'tokens'; tokens: TokenSet; via: 'refresh' | 'primary'; rotated: boolean }
  | { kind: 'adopt'; current: VersionedRecord };

export class Refresher {
  constructor(private readonly options: RefresherOptions) {}

  async refresh(name: string, trigger: RefreshTrigger = {}): Promise<VersionedRecord> {
    const { repository } = this.options;
    let seen = trigger.seenAccessToken;
    /** The version whose tokens are to be replaced: a different one, if fresh, is taken instead. */
    let basis = trigger.ifVersion;
    if (basis === undefined) {
      const before = await repository.load(name);
      if (!before) throw notFound(name);
      if (trigger.force) this.#assertRefreshable(before);
      if (trigger.force && seen === undefined) seen = before.record.secrets.tokens?.accessToken;
      if (this.#adoptable(before, seen)) {
        // With a token in hand that is now replaced, someone else refreshed; without one, this is a first load.
        if (seen !== undefined) this.#emitAdopt(before);
        return before;
      }
      if (trigger.adoptOnly) return before;
      if (!trigger.force || trigger.heedBackoff) this.#assertNotBackingOff(before);
      basis = before.version;
    }
    const replacesBasis = (current: VersionedRecord) =>
      this.#adoptable(current, seen) && (trigger.ifVersion === undefined || current.version !== basis);

    const waitStarted = this.options.settings.pacingClock.now();
    const taken = await acquireLease(repository.store, name, this.options.settings, async () => {
      const current = await repository.load(name);
      if (!current) throw notFound(name);
      if (replacesBasis(current)) return current;
      if (current.record.state === 'reauth_required') throw reauthRequired(current);
      return undefined;
    });
    this.options.events.emit('lock_wait', {
      connection: name,
      waitedMs: this.options.settings.pacingClock.now() - waitStarted,
    });
    if ('instead' in taken) {
      this.#emitAdopt(taken.instead);
      return taken.instead;
    }
    const { lease } = taken;
    let current: VersionedRecord | undefined;
    try {
      // Re-read under the lock: whoever held it before us may have refreshed already.
      current = await repository.load(name);
      if (!current) throw notFound(name);
      if (trigger.force) this.#assertRefreshable(current); // a new login may have made it an API key
      if (current.record.state === 'reauth_required') throw reauthRequired(current);
      if (replacesBasis(current)) {
        if (current.version !== basis) this.#emitAdopt(current);
        return current;
      }
      const obtained = await this.#obtain(current, lease);
      if (obtained.kind === 'adopt') {
        this.#emitAdopt(obtained.current);
        return obtained.current;
      }
      const saved = await this.#persist(current, obtained.tokens, lease);
      this.#emitObtained(saved.record, obtained);
      return saved;
    } catch (error) {
      // Given up by close(): not the provider's failure, so nothing to back off from or report.
      if (error instanceof KeeperClosedError) throw error;
      if (current && isTransient(error)) await this.#backOffInStore(current, error, lease);
      if (error instanceof TokenkeeperError && error.code !== 'REAUTH_REQUIRED') {
        this.options.events.emit('refresh_failed', {
          connection: name,
          code: error.code,
          message: error.message,
        });
      }
      throw error;
    } finally {
      await lease.release();
    }
  }

  /** `refresh` of a credential that is its own token (an API key) has nothing to do. */
  #assertRefreshable(current: VersionedRecord): void {
    if (!grantStrategy(current.record.grant).refreshable) throw nothingToRefresh(current.record.name);
  }

  /** Fresh, and not the token the caller is trying to get rid of. */
  #adoptable(current: VersionedRecord, seen: string | undefined): boolean {
    const tokens = current.record.secrets.tokens;
    if (!tokens || current.record.state !== 'ok') return false;
    if (seen !== undefined && tokens.accessToken === seen) return false;
    // No minimum interval here: a token another process just got that is already stale
    // (expires_in: 0) is replaced for this caller; the interval paces one process's own loop.
    const { clock, refreshTiming } = this.options.settings;
    return isFresh(tokens, clock.now(), refreshTiming);
  }

  /**
   * Another process failed moments ago and the provider is having trouble: do not ask
   * again before the shared back-off ends (a cold process has no memory of its own).
   */
  #assertNotBackingOff(current: VersionedRecord): void {
    const now = this.options.settings.clock.now();
    const backoff = this.#sharedBackoff(current, now);
    if (!backoff || now >= backoff.until) return;
    throw backingOffError(current.record.name, backoff, now);
  }

  /** The back-off in the store, as far as an unauthenticated field can be believed (see shared-backoff.ts). */
  #sharedBackoff(current: VersionedRecord, now: number): SharedBackoff | undefined {
    const { tokenRetry, minRefreshIntervalMs } = this.options.settings;
    const longest = Math.max(minRefreshIntervalMs, longestDelay(tokenRetry));
    return readSharedBackoff(current.record.backoff, now, longest);
  }

  /** Records a transient failure in the store (best effort, fenced), with the shared retry schedule. */
  async #backOffInStore(current: VersionedRecord, error: TokenkeeperError, lease: Lease): Promise<void> {
    const { clock, tokenRetry, random, minRefreshIntervalMs } = this.options.settings;
    const now = clock.now();
    const failures = (this.#sharedBackoff(current, now)?.failures ?? 0) + 1;
    const delay = Math.max(minRefreshIntervalMs, backoffDelay(tokenRetry, failures - 1, random));
    const record: ConnectionRecord = {
      ...current.record,
      backoff: { failures, until: now + delay, code: error.code, message: error.message },
    };
    await this.options.repository.save(record, current.version, lease.owner).catch(() => undefined);
  }

  async #obtain(current: VersionedRecord, lease: Lease): Promise<Obtained> {
    const { repository } = this.options;
    const { record } = current;
    const previous = record.secrets.tokens;
    const refreshToken = previous?.refreshToken;
    if (refreshToken) {
      try {
        const { refreshTokenGrant } = await import('../grants/refresh-token.js');
        const result = await refreshTokenGrant(
          clientConfigOf(record),
          refreshToken,
          this.options.requestContext(record),
        );
        const tokens = this.options.toTokenSet(record, result, previous);
        return { kind: 'tokens', tokens, via: 'refresh', rotated: tokens.refreshToken !== refreshToken };
      } catch (error) {
        if (isTerminalOAuthError(error, 'invalid_client', 'unauthorized_client')) {
          // The client itself was refused: no grant of this client can succeed until a person fixes it.
          throw await this.#markReauthRequired(
            current,
            `the provider refused the client (${(error as TokenkeeperError).error})`,
            lease,
          );
        }
        if (!isTerminalOAuthError(error, 'invalid_grant')) throw error;
        // Before declaring the refresh token dead: a sibling whose lock had run out may have rotated it.
        const latest = await repository.load(record.name);
        const latestTokens = latest?.record.secrets.tokens;
        if (
          latest &&
          latestTokens &&
          latest.record.generation === record.generation &&
          latestTokens.refreshToken !== refreshToken
        ) {
          return { kind: 'adopt', current: latest };
        }
        return this.#startOver(
          latest ?? current,
          'the provider rejected the saved refresh token',
          lease,
          true,
        );
      }
    }
    return this.#startOver(current, 'there is no refresh token', lease, false);
  }

  /**
   * The refresh path is closed: log in again unattended if the connection can, else ask for a
   * person. `refreshRejected`: a refresh token was sent and refused, which is told as a failed
   * refresh; a grant that never has one (client credentials) simply asks again, and nothing failed.
   */
  async #startOver(
    current: VersionedRecord,
    reason: string,
    lease: Lease,
    refreshRejected: boolean,
  ): Promise<Obtained> {
    const { events } = this.options;
    const { record } = current;
    const strategy = grantStrategy(record.grant);
    if (!strategy.canRunUnattended({ ...record.secrets, clientId: record.clientId })) {
      throw await this.#markReauthRequired(current, reason, lease);
    }
    if (refreshRejected) {
      // The refusal came from the token endpoint; the message says a login with the saved
      // credentials follows, so a listener can tell this from a failure that stands.
      events.emit('refresh_failed', {
        connection: record.name,
        code: 'TOKEN_ENDPOINT',
        message: `${reason}; logging in again with the saved ${record.grant} credentials`,
      });
    }
    try {
      const now = this.options.settings.clock.now();
      const result = await strategy.obtainUnattended(
        loginInputOf(record, now),
        this.options.requestContext(record),
      );
      return {
        kind: 'tokens',
        tokens: this.options.toTokenSet(record, result),
        via: 'primary',
        rotated: false,
      };
    } catch (error) {
      if (!isTerminalOAuthError(error)) throw error;
      throw await this.#markReauthRequired(
        current,
        `${reason}, and the saved ${record.grant} credentials were rejected too (${(error as TokenkeeperError).error})`,
        lease,
      );
    }
  }

  async #markReauthRequired(
    current: VersionedRecord,
    reason: string,
    lease: Lease,
  ): Promise<ReauthRequiredError> {
    const error = new ReauthRequiredError(current.record.name, reason);
    const { backoff: _cleared, ...rest } = current.record;
    const marked: ConnectionRecord = {
      ...rest,
      state: 'reauth_required',
      lastError: { code: error.code, message: reason, at: this.options.settings.clock.now() },
    };
    // Best effort, fenced: if someone else wrote meanwhile (a new login), their state wins.
    await this.options.repository.save(marked, current.version, lease.owner).catch(() => undefined);
    this.options.events.emit('reauth_required', { connection: current.record.name, reason });
    return error;
  }

  /**
   * Saves new tokens before anyone may use them. With a rotating refresh token the old
   * one is already dead, so a failed save is retried under the lock; only then do we
   * fail closed: the new tokens are dropped and the caller learns why.
   *
   * A refused write (compare-and-set or fence) is read again: a logout, or a newer login,
   * wins over these tokens; tokens another holder saved later win too.
   */
  async #persist(current: VersionedRecord, tokens: TokenSet, lease: Lease): Promise<VersionedRecord> {
    const { repository } = this.options;
    const { clock, pacingClock, random, save, lock } = this.options.settings;
    const name = current.record.name;
    const { lastError: _dropped, backoff: _cleared, ...rest } = current.record;
    const next: ConnectionRecord = {
      ...rest,
      state: 'ok',
      lastRefreshAt: clock.now(),
      secrets: { ...current.record.secrets, tokens: tokens.toJSON() },
    };
    let expected = current.version;
    let lastFailure: unknown;
    for (let attempt = 0; attempt < save.attempts; attempt++) {
      if (attempt > 0) await pacingClock.sleep(backoffDelay(save.backoff, attempt - 1, random));
      try {
        const version = await repository.save(next, expected, lease.owner);
        if (version !== undefined) return { record: next, version };
        const theirs = await repository.load(name);
        if (!theirs) throw removedMeanwhile(name);
        if (theirs.record.generation !== current.record.generation) return theirs; // a newer login
        const theirTokens = theirs.record.secrets.tokens;
        if (theirTokens && theirTokens.obtainedAt > tokens.obtainedAt) return theirs;
        // Same login, older tokens: our lease ran out. Take the lock again if nobody holds it.
        if (!(await repository.store.tryLock(name, lease.owner, lock.ttlMs))) {
          throw new Error('the refresh lock passed to another process before the new tokens were saved');
        }
        expected = theirs.version;
      } catch (error) {
        if (error instanceof TokenkeeperError && error.code === 'NOT_FOUND') throw error;
        lastFailure = error;
      }
    }
    throw new StoreError(
      `Obtained new tokens for "${name}" but could not save them (${describe(lastFailure)}). ` +
        'They were discarded and not used. Fix the store, then run ' +
        `\`tokenkeeper refresh ${name}\`; if that fails, run \`tokenkeeper login ${name}\`.`,
      { connection: name, cause: lastFailure },
    );
  }

  #emitObtained(record: ConnectionRecord, obtained: Extract<Obtained, { kind: 'tokens' }>): void {
    const expiresAt = obtained.tokens.expiresAt;
    if (obtained.via === 'refresh') {
      this.options.events.emit('refresh', { connection: record.name, expiresAt, rotated: obtained.rotated });
    } else {
      this.options.events.emit('token', { connection: record.name, grant: record.grant, expiresAt });
    }
  }

  #emitAdopt(current: VersionedRecord): void {
    this.options.events.emit('adopt', {
      connection: current.record.name,
      expiresAt: current.record.secrets.tokens?.expiresAt ?? null,
    });
  }
}

function reauthRequired(current: VersionedRecord): ReauthRequiredError {
  return new ReauthRequiredError(
    current.record.name,
    current.record.lastError?.message ?? 'it was marked for re-login',
  );
}

function removedMeanwhile(name: string): TokenkeeperError {
  return new TokenkeeperError(
    'NOT_FOUND',
    `Connection "${name}" was logged out while it was being refreshed; the new tokens were discarded. ` +
      `Run \`tokenkeeper login ${name}\` to use it again.`,
    { connection: name },
  );
}

function notFound(name: string): TokenkeeperError {
  return new TokenkeeperError(
    'NOT_FOUND',
    `There is no connection named "${name}". Run \`tokenkeeper login ${name}\` to create it, or \`tokenkeeper status\` to list connections.`,
    { connection: name },
  );
}

/** `refresh` of a credential that is its own token (an API key). */
export function nothingToRefresh(name: string): ConfigError {
  return new ConfigError(
    `Connection "${name}" uses an API key, which does not expire: there is nothing to refresh.`,
  );
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export { notFound as connectionNotFound };
