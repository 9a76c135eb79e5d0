/**
 * The in-memory layer in front of the refresher (golang/oauth2's ReuseTokenSource,
 * plus what a long-lived process needs): hands out a cached token while it is fresh,
 * renews at most once per connection at a time (single-flight), backs off after
 * failures while still serving a token that is valid, and refreshes each used
 * connection in the background before it goes stale.
 */
import type { Clock, TimerHandle } from '../clock.js';
import type { ConnectionRecord, VersionedRecord } from '../connection.js';
import { TokenkeeperError } from '../errors.js';
import { TokenSet } from '../token-set.js';
import { type RefreshTimingOptions, refreshAt } from './refresh-timing.js';
import type { RefreshTrigger } from './refresher.js';
import { SingleFlight } from './single-flight.js';

export interface CachedToken {
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

export interface TokenCacheOptions {
  clock: Clock;
  timing: RefreshTimingOptions;
  /** In [0, 1): spreads the refreshes of many processes. */
  random: () => number;
  /** Refresh in the background before a token goes stale. */
  proactive: boolean;
  /** Gets a usable record: from the store, or by refreshing (see Refresher). */
  refresh(name: string, trigger: RefreshTrigger): Promise<VersionedRecord>;
}

const BACKOFF_BASE_MS = 1_000;
const BACKOFF_MAX_MS = 5 * 60_000;

export class TokenCache {
  readonly #entries = new Map<string, CachedToken>();
  readonly #timers = new Map<string, TimerHandle>();
  readonly #flight = new SingleFlight<CachedToken>();
  #closed = false;

  constructor(private readonly options: TokenCacheOptions) {}

  get(name: string): CachedToken | undefined {
    return this.#entries.get(name);
  }

  /** The hot path: a Map lookup and a clock read. */
  freshToken(name: string): string | undefined {
    const entry = this.#entries.get(name);
    return entry !== undefined && this.options.clock.now() < entry.staleAt ? entry.accessToken : undefined;
  }

  /** Renews once per connection at a time, with back-off after failures. */
  renew(name: string, trigger: RefreshTrigger = {}): Promise<CachedToken> {
    return this.#flight.run(name, async () => {
      const cached = this.#entries.get(name);
      const now = this.options.clock.now();
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
      try {
        return this.remember(await this.options.refresh(name, trigger));
      } catch (error) {
        if (
          !(error instanceof TokenkeeperError) ||
          error.code === 'REAUTH_REQUIRED' ||
          error.code === 'NOT_FOUND'
        ) {
          this.drop(name);
          throw error;
        }
        if (!cached) throw error;
        cached.failures++;
        cached.lastError = error;
        const backoff = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (cached.failures - 1));
        cached.retryNotBefore = this.options.clock.now() + backoff;
        this.#schedule(name, backoff);
        if (!cached.tokens.isExpired(this.options.clock.now()) && !trigger.force) return cached;
        throw error;
      }
    });
  }

  /** Caches a record's tokens and schedules its proactive refresh. */
  remember(current: VersionedRecord): CachedToken {
    const { record } = current;
    const data = record.secrets.tokens;
    if (!data)
      throw new TokenkeeperError('STORE', `Connection "${record.name}" has no tokens; log in again.`);
    const tokens = new TokenSet(data);
    const entry: CachedToken = {
      accessToken: tokens.accessToken,
      tokens,
      staleAt: refreshAt(tokens, this.options.timing, this.options.random()),
      record,
      failures: 0,
    };
    this.#entries.set(record.name, entry);
    if (Number.isFinite(entry.staleAt)) this.#schedule(record.name, entry.staleAt - this.options.clock.now());
    return entry;
  }

  drop(name: string): void {
    this.#timers.get(name)?.cancel();
    this.#timers.delete(name);
    this.#entries.delete(name);
  }

  close(): void {
    this.#closed = true;
    for (const timer of this.#timers.values()) timer.cancel();
    this.#timers.clear();
    this.#entries.clear();
  }

  #schedule(name: string, delayMs: number): void {
    if (!this.options.proactive || this.#closed) return;
    this.#timers.get(name)?.cancel();
    const timer = this.options.clock.setTimer(
      () => {
        this.#timers.delete(name);
        if (this.#closed) return;
        const seenAccessToken = this.#entries.get(name)?.accessToken;
        // Failures are reported through events and retried by the back-off above.
        this.renew(name, seenAccessToken !== undefined ? { seenAccessToken } : {}).catch(() => undefined);
      },
      Math.max(0, delayMs),
    );
    this.#timers.set(name, timer);
  }
}
