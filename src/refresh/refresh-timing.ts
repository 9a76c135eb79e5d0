/**
 * When to refresh a token: pure arithmetic, so it can be tested exhaustively.
 *
 * We refresh `margin` before expiry. The margin is clamped to a fraction of the
 * token's lifetime: with a 60 s margin and a 30 s token, an unclamped margin
 * would make every token look stale at birth and refresh in a storm. A random
 * jitter (a slice of the margin) spreads the refreshes of many processes.
 */

export interface RefreshTimingOptions {
  /** Refresh this long before expiry (ms). */
  marginMs: number;
  /** The margin never exceeds this fraction of the token's lifetime (0 < f < 1). */
  maxMarginFraction: number;
  /** Up to this fraction of the margin is added at random. */
  jitterFraction: number;
}

export const defaultRefreshTiming: RefreshTimingOptions = {
  marginMs: 60_000,
  maxMarginFraction: 0.5,
  jitterFraction: 0.2,
};

export function effectiveMarginMs(lifetimeMs: number, options: RefreshTimingOptions): number {
  return Math.max(0, Math.min(options.marginMs, lifetimeMs * options.maxMarginFraction));
}

/**
 * The instant after which a token counts as stale; Infinity for a token that
 * never expires. `random` is a number in [0, 1).
 *
 * Never earlier than `minIntervalMs` after the token was requested: a token that
 * arrives already stale (`expires_in: 0`, a JWT `exp` in the past, a skewed clock)
 * is used as it is for that long rather than refreshed in a loop.
 */
export function refreshAt(
  token: { expiresAt: number | null; obtainedAt: number },
  options: RefreshTimingOptions,
  random: number,
  minIntervalMs = 0,
): number {
  if (token.expiresAt === null) return Number.POSITIVE_INFINITY;
  const lifetime = Math.max(0, token.expiresAt - token.obtainedAt);
  const margin = effectiveMarginMs(lifetime, options);
  const jitter = margin * options.jitterFraction * random;
  return Math.max(token.expiresAt - margin - jitter, token.obtainedAt + minIntervalMs);
}

/** Fresh enough to hand out, judged by the margin alone (no jitter): used when adopting a stored token. */
export function isFresh(
  token: { expiresAt: number | null; obtainedAt: number },
  now: number,
  options: RefreshTimingOptions,
  minIntervalMs = 0,
): boolean {
  return now < refreshAt(token, options, 0, minIntervalMs);
}
