/**
 * Fixed window per key, Laravel style: a key's window opens with its first request and
 * lasts `windowMs`; requests refused while the window is full do not count.
 */

export interface RateLimitDecision {
  allowed: boolean;
  limit: number;
  /** Requests left in the current window after this one. */
  remaining: number;
  /** When the current window closes (ms since the epoch). */
  resetAtMs: number;
  /** Whole seconds until the window closes (at least 1). */
  retryAfterSeconds: number;
}

export interface FixedWindowRateLimiterOptions {
  limit: number;
  windowMs?: number;
  now?: () => number;
}

interface Window {
  startMs: number;
  count: number;
}

/** Windows are swept once this many keys are tracked. */
const SWEEP_THRESHOLD = 1000;

export class FixedWindowRateLimiter {
  readonly limit: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #windows = new Map<string, Window>();

  constructor(options: FixedWindowRateLimiterOptions) {
    this.limit = options.limit;
    this.#windowMs = options.windowMs ?? 60_000;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Records one request for `key` if the window has room, and says what happened.
   * `limit` overrides the limiter's own for this key (buckets with different limits).
   */
  hit(key: string, limit: number = this.limit): RateLimitDecision {
    const now = this.#now();
    let window = this.#windows.get(key);
    if (!window || now >= window.startMs + this.#windowMs) {
      if (this.#windows.size >= SWEEP_THRESHOLD) this.#sweep(now);
      window = { startMs: now, count: 0 };
      this.#windows.set(key, window);
    }
    const allowed = window.count < limit;
    if (allowed) window.count += 1;
    const resetAtMs = window.startMs + this.#windowMs;
    return {
      allowed,
      limit,
      remaining: Math.max(0, limit - window.count),
      resetAtMs,
      retryAfterSeconds: Math.max(1, Math.ceil((resetAtMs - now) / 1000)),
    };
  }

  reset(): void {
    this.#windows.clear();
  }

  #sweep(now: number): void {
    for (const [key, window] of this.#windows) {
      if (now >= window.startMs + this.#windowMs) this.#windows.delete(key);
    }
  }
}

/** `X-RateLimit-Limit` and `X-RateLimit-Remaining`, plus `Retry-After`/`X-RateLimit-Reset` when refused. */
export function rateLimitHeaders(decision: RateLimitDecision): Record<string, string> {
  const headers: Record<string, string> = {
    'x-ratelimit-limit': String(decision.limit),
    'x-ratelimit-remaining': String(decision.remaining),
  };
  if (!decision.allowed) {
    headers['retry-after'] = String(decision.retryAfterSeconds);
    headers['x-ratelimit-reset'] = String(Math.ceil(decision.resetAtMs / 1000));
  }
  return headers;
}
