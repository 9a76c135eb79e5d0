/**
 * The emulator's idea of "now": an injected base clock plus a skew set through
 * `POST /__emulator/clock`. Everything the provider judges by time (issuing tokens,
 * `created_at`, JWT `iat`/`exp`, expiry, code lifetimes, rate-limit windows) reads
 * `now`, so a skew simulates a provider whose clock runs ahead of (or behind) the client's.
 * Fault rules time their `forMs` on `baseNow`: a test harness's durations should not jump
 * when it skews the provider.
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
    if (!Number.isSafeInteger(skewMs)) {
      throw new RangeError(`skewMs must be an integer number of milliseconds, got ${String(skewMs)}.`);
    }
    this.#skewMs = skewMs;
    return this.#skewMs;
  }
}
