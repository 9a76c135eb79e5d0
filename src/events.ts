/**
 * Typed events of a keeper. Payloads name the connection and describe what
 * happened; they never carry a token, secret or password, so they are safe to log.
 */
import { EventEmitter } from 'node:events';
import { ConfigError, type ErrorCode } from './errors.js';
import { kindOf, meantOf } from './options.js';
import type { GrantType } from './providers/types.js';

/**
 * Events of a keeper and their payloads, which never carry a secret.
 *
 * @example
 * keeper.on('reauth_required', ({ connection, reason }) => alert(`${connection}: ${reason}`));
 */
export interface KeeperEvents {
  /** Tokens obtained with a primary grant (login, or the password fallback). */
  token: { connection: string; grant: GrantType; expiresAt: number | null };
  /** Tokens renewed with the refresh token. `rotated`: the provider issued a new refresh token. */
  refresh: { connection: string; expiresAt: number | null; rotated: boolean };
  /** Another process refreshed first and this one took its tokens from the store. */
  adopt: { connection: string; expiresAt: number | null };
  /**
   * A refresh attempt failed; the connection may still recover (network, 5xx, or a refused
   * refresh token while a login with the saved credentials follows). `code` is the
   * ErrorCode of the failure, as a TokenkeeperError would carry it.
   */
  refresh_failed: { connection: string; code: ErrorCode; message: string };
  /** A refresh got the connection's lock, after waiting this long for another holder (0: it was free). */
  lock_wait: { connection: string; waitedMs: number };
  /**
   * An API request was held back this long for a free slot under the provider's rate limit,
   * counted with every process on the store, rather than sent to meet a 429. Only waits.
   */
  rate_limit_wait: { connection: string; waitedMs: number };
  /**
   * An API request is sent again after `waitMs`, before that wait: the provider answered 429
   * (its Retry-After, else the back-off), or 502-504 to a request safe to repeat. Lets a
   * program say why it is waiting (`tokenkeeper request` does).
   */
  retry_wait: { connection: string; status: number; waitMs: number };
  /** Nothing more can be done without a person: log in again. */
  reauth_required: { connection: string; reason: string };
}

/** The names `keeper.on` accepts. */
export type KeeperEventName = keyof KeeperEvents;

/** Every event name; the `satisfies` keeps it in step with KeeperEvents. */
const EVENT_NAMES: readonly string[] = Object.keys({
  token: true,
  refresh: true,
  adopt: true,
  refresh_failed: true,
  lock_wait: true,
  rate_limit_wait: true,
  retry_wait: true,
  reauth_required: true,
} satisfies Record<KeeperEventName, true>);

export class KeeperEventEmitter {
  readonly #emitter = new EventEmitter();

  on<E extends KeeperEventName>(event: E, listener: (payload: KeeperEvents[E]) => void): () => void {
    // A mistyped name from plain JavaScript would never be called, without a word.
    if (!EVENT_NAMES.includes(event)) {
      throw new ConfigError(
        `There is no event ${JSON.stringify(event)}${meantOf(String(event), EVENT_NAMES)} The events are ${EVENT_NAMES.join(', ')}.`,
      );
    }
    if (typeof listener !== 'function') {
      throw new ConfigError(`A listener of ${event} must be a function, got ${kindOf(listener)}.`);
    }
    this.#emitter.on(event, listener);
    return () => this.#emitter.off(event, listener);
  }

  emit<E extends KeeperEventName>(event: E, payload: KeeperEvents[E]): void {
    // A throwing listener must not break a refresh that already succeeded.
    for (const listener of this.#emitter.listeners(event)) {
      try {
        (listener as (p: KeeperEvents[E]) => void)(payload);
      } catch {
        // ignored on purpose
      }
    }
  }

  removeAll(): void {
    this.#emitter.removeAllListeners();
  }
}
