/**
 * The emulator's idea of "now": an injected base clock plus a skew set through
 * `POST /__emulator/clock`. Everything the provider judges by time (issuing tokens,
 * `created_at`, JWT `iat`/`exp`, expiry, code lifetimes, rate-limit windows) reads
 * `now`, so a skew simulates a provider whose clock runs ahead of (or behind) the client's.
 * Fault rules time their `forMs` on `baseNow`: a test harness's durations should not jump
 * when it skews the provider.
 */
/**
 * A thousand years either way: enough to outlive any token (a company token lasts years), and
 * "now" stays a date with a four-digit year that JSON, JWTs and ISO 8601 parsers all read.
 */
export const MAX_SKEW_MS = 1000 * 365.2425 * 24 * 3600 * 1000;

export function isValidSkew(skewMs: unknown): skewMs is number {
  return Number.isSafeInteger(skewMs) && Math.abs(skewMs as number) <= MAX_SKEW_MS;
}

/**
 * The provider's clock: a base clock (tests inject theirs) plus a skew, so a test can make the
 * provider run ahead of or behind the client. Share one between the authority and the server.
 */
export class EmulatorClock {
  readonly #base: () => number;
  #skewMs = 0;

  constructor(base: () => number = Date.now) {
    this.#base = base;
  }

  /** Skewed time, in milliseconds since the epoch. Bound, so it can be handed around as a function. */
  readonly now = (): number => this.#base() + this.#skewMs;

  /** The injected clock without the skew. */
  readonly baseNow = (): number => this.#base();

  get skewMs(): number {
    return this.#skewMs;
  }

  /** Sets (not adds to) the skew; 0 undoes it. */
  setSkew(skewMs: number): number {
    if (!isValidSkew(skewMs)) {
      throw new RangeError(
        `skewMs must be an integer number of milliseconds within ±${MAX_SKEW_MS} (a thousand years), got ${String(skewMs)}.`,
      );
    }
    this.#skewMs = skewMs;
    return this.#skewMs;
  }
}
