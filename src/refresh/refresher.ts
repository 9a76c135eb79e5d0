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
import { randomUUID } from 'node:crypto';
import {
  type ConnectionRecord,
  type ConnectionRepository,
  clientConfigOf,
  loginInputOf,
  type VersionedRecord,
} from '../connection.js';
import { LockTimeoutError, ReauthRequiredError, StoreError, TokenkeeperError } from '../errors.js';
import type { KeeperEventEmitter } from '../events.js';
import { grantStrategy } from '../grants/strategies.js';
import type { GrantResult, TokenRequestContext } from '../grants/token-endpoint.js';
import { backoffDelay } from '../http/backoff.js';
import type { KeeperSettings } from '../options.js';
import type { TokenSet, TokenSetData } from '../token-set.js';
import { isFresh } from './refresh-timing.js';

export interface RefreshTrigger {
  /**
   * The access token the caller holds and wants replaced (expired, or rejected
   * with a 401). A stored token that differs from it and is fresh is adopted.
   */
  seenAccessToken?: string;
  /** Replace the tokens even if they look fresh (`tokenkeeper refresh`). */
  force?: boolean;
}

export interface RefresherOptions {
  repository: ConnectionRepository;
  settings: Pick<KeeperSettings, 'clock' | 'pacingClock' | 'random' | 'refreshTiming' | 'lock'>;
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
    const before = await repository.load(name);
    if (!before) throw notFound(name);
    if (trigger.force && seen === undefined) seen = before.record.secrets.tokens?.accessToken;
    if (this.#adoptable(before, seen)) {
      // With a token in hand that is now replaced, someone else refreshed; without one, this is a first load.
      if (seen !== undefined) this.#emitAdopt(before);
      return before;
    }

    const owner = randomUUID();
    const adopted = await this.#lockOrAdopt(name, owner, seen);
    if (adopted) {
      this.#emitAdopt(adopted);
      return adopted;
    }
    try {
      // Re-read under the lock: whoever held it before us may have refreshed already.
      const current = await repository.load(name);
      if (!current) throw notFound(name);
      if (current.record.state === 'reauth_required') {
        throw new ReauthRequiredError(
          name,
          current.record.lastError?.message ?? 'it was marked for re-login',
        );
      }
      if (this.#adoptable(current, seen)) {
        if (current.version !== before.version) this.#emitAdopt(current);
        return current;
      }
      const obtained = await this.#obtain(current);
      if (obtained.kind === 'adopt') {
        this.#emitAdopt(obtained.current);
        return obtained.current;
      }
      const saved = await this.#persist(current, obtained.tokens);
      this.#emitObtained(saved.record, obtained);
      return saved;
    } catch (error) {
      if (error instanceof TokenkeeperError && error.code !== 'REAUTH_REQUIRED') {
        this.options.events.emit('refresh_failed', {
          connection: name,
          code: error.code,
          message: error.message,
        });
      }
      throw error;
    } finally {
      await this.options.repository.store.unlock(name, owner).catch(() => undefined);
    }
  }

  /** Fresh, and not the token the caller is trying to get rid of. */
  #adoptable(current: VersionedRecord, seen: string | undefined): boolean {
    const tokens = current.record.secrets.tokens;
    if (!tokens || current.record.state !== 'ok') return false;
    if (seen !== undefined && tokens.accessToken === seen) return false;
    return isFresh(tokens, this.options.settings.clock.now(), this.options.settings.refreshTiming);
  }

  /**
   * Takes the lock, or returns the record another holder refreshed while we
   * waited. Polls with back-off on the pacing clock: a lock is shared with other
   * processes, which do not follow the token clock.
   */
  async #lockOrAdopt(
    name: string,
    owner: string,
    seen: string | undefined,
  ): Promise<VersionedRecord | undefined> {
    const { repository } = this.options;
    const { pacingClock, lock, random } = this.options.settings;
    const started = pacingClock.now();
    for (let attempt = 0; ; attempt++) {
      if (await repository.store.tryLock(name, owner, lock.ttlMs)) return undefined;
      const current = await repository.load(name);
      if (!current) throw notFound(name);
      if (this.#adoptable(current, seen)) return current;
      if (current.record.state === 'reauth_required') {
        throw new ReauthRequiredError(
          name,
          current.record.lastError?.message ?? 'it was marked for re-login',
        );
      }
      const waited = pacingClock.now() - started;
      if (waited > lock.waitMs) throw new LockTimeoutError(name, waited);
      await pacingClock.sleep(backoffDelay(lock.poll, attempt, random));
    }
  }

  async #obtain(current: VersionedRecord): Promise<Obtained> {
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
        if (!isInvalidGrant(error)) throw error;
        // Before declaring the refresh token dead: a sibling whose lock had run out may have rotated it.
        const latest = await repository.load(record.name);
        const latestTokens = latest?.record.secrets.tokens;
        if (latest && latestTokens && latestTokens.refreshToken !== refreshToken) {
          return { kind: 'adopt', current: latest };
        }
        return this.#startOver(latest ?? current, 'the provider rejected the saved refresh token');
      }
    }
    return this.#startOver(current, 'there is no refresh token');
  }

  /** The refresh path is closed: log in again unattended if the connection can, else ask for a person. */
  async #startOver(current: VersionedRecord, reason: string): Promise<Obtained> {
    const { events } = this.options;
    const { record } = current;
    const strategy = grantStrategy(record.grant);
    if (!strategy.canRunUnattended({ ...record.secrets, clientId: record.clientId })) {
      throw await this.#markReauthRequired(current, reason);
    }
    events.emit('refresh_failed', {
      connection: record.name,
      code: 'REFRESH_REJECTED',
      message: `${reason}; logging in again with the saved ${record.grant} credentials`,
    });
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
      if (!isInvalidGrant(error) && !isInvalidClient(error)) throw error;
      throw await this.#markReauthRequired(
        current,
        `${reason}, and the saved ${record.grant} credentials were rejected too (${(error as TokenkeeperError).error})`,
      );
    }
  }

  async #markReauthRequired(current: VersionedRecord, reason: string): Promise<ReauthRequiredError> {
    const error = new ReauthRequiredError(current.record.name, reason);
    const marked: ConnectionRecord = {
      ...current.record,
      state: 'reauth_required',
      lastError: { code: error.code, message: reason, at: this.options.settings.clock.now() },
    };
    // Best effort: if someone else wrote meanwhile, their state wins and the next call re-reads it.
    await this.options.repository.save(marked, current.version).catch(() => undefined);
    this.options.events.emit('reauth_required', { connection: current.record.name, reason });
    return error;
  }

  /**
   * Saves new tokens before anyone may use them. With a rotating refresh token
   * the old one is already dead, so if the save fails we fail closed: the new
   * tokens are dropped and the caller learns why.
   */
  async #persist(current: VersionedRecord, tokens: TokenSet): Promise<VersionedRecord> {
    const { repository } = this.options;
    const { clock } = this.options.settings;
    const { lastError: _dropped, ...rest } = current.record;
    const next: ConnectionRecord = {
      ...rest,
      state: 'ok',
      lastRefreshAt: clock.now(),
      secrets: { ...current.record.secrets, tokens: tokens.toJSON() },
    };
    try {
      let version = await repository.save(next, current.version);
      if (version === undefined) {
        // Our lock ran out and someone else wrote. Keep whichever tokens the provider issued last.
        const theirs = await repository.load(current.record.name);
        const theirTokens = theirs?.record.secrets.tokens;
        if (theirs && theirTokens && theirTokens.obtainedAt > tokens.obtainedAt) return theirs;
        version = await repository.save(next, theirs?.version ?? 0);
      }
      if (version === undefined) throw new Error('the connection kept changing under us');
      return { record: next, version };
    } catch (error) {
      throw new StoreError(
        `Obtained new tokens for "${current.record.name}" but could not save them (${describe(error)}). ` +
          'They were discarded and not used. Fix the store, then run ' +
          `\`tokenkeeper refresh ${current.record.name}\`; if that fails, run \`tokenkeeper login ${current.record.name}\`.`,
        { connection: current.record.name, cause: error },
      );
    }
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

function isInvalidGrant(error: unknown): boolean {
  return (
    error instanceof TokenkeeperError && error.code === 'TOKEN_ENDPOINT' && error.error === 'invalid_grant'
  );
}

function isInvalidClient(error: unknown): boolean {
  return (
    error instanceof TokenkeeperError && error.code === 'TOKEN_ENDPOINT' && error.error === 'invalid_client'
  );
}

function notFound(name: string): TokenkeeperError {
  return new TokenkeeperError(
    'NOT_FOUND',
    `There is no connection named "${name}". Run \`tokenkeeper login ${name}\` to create it, or \`tokenkeeper status\` to list connections.`,
    { connection: name },
  );
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export { notFound as connectionNotFound };
