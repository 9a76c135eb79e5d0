/**
 * How rate-limiter-flexible's fixed windows keep a sliding promise: "at most `limit`
 * requests in ANY span of `windowMs`", whatever the provider's own counting (a fixed
 * window opened by its first request, as Laravel and the emulators count, or a sliding one).
 *
 * A single fixed window of `limit` per `windowMs` does not: `limit` requests at the end
 * of one window and `limit` at the start of the next fall within one span of `windowMs`.
 * So the budget is cut into k sub-windows of windowMs / k, each with
 * floor(limit / (k + 1)) requests. Sub-windows never overlap (a new one opens with the
 * first request after the last one closed), and a span of windowMs meets at most k + 1 of
 * them, so it holds at most limit requests. The price is a little throughput: with k = 4,
 * Factus's 80 a minute become 16 per 15 s, 64 a minute.
 *
 * k is at most 4, and smaller for small limits (every sub-window must allow one request)
 * and short windows (no sub-window is shorter than a second). A limit of 1 cannot be kept
 * by fixed windows at all: it allows two requests in the worst span.
 */

export interface FixedWindows {
  /** Requests per sub-window. */
  points: number;
  /** Length of a sub-window. */
  durationMs: number;
}

export const MAX_SUB_WINDOWS = 4;
const MIN_SUB_WINDOW_MS = 1000;

export function fixedWindowsFor(limit: number, windowMs: number): FixedWindows {
  const k = Math.max(1, Math.min(MAX_SUB_WINDOWS, limit - 1, Math.floor(windowMs / MIN_SUB_WINDOW_MS)));
  return { points: Math.max(1, Math.floor(limit / (k + 1))), durationMs: windowMs / k };
}
