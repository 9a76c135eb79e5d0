/**
 * When may we try again? Pure parsing, in this order, of `Retry-After` (RFC 9110: delay in
 * seconds or an HTTP date), `RateLimit-Reset` (the IETF RateLimit header fields draft: delay
 * in seconds until the quota resets) and the `X-RateLimit-Reset` many APIs (Laravel, Factus)
 * send with a 429. Returns a delay in ms, or undefined when none of them says when.
 */

/** No server means a wait longer than this (the span of a Date): an absurd value is capped, never Infinity. */
const MAX_DELAY_MS = 8.64e15;

export function parseRetryAfter(
  headers: { get(name: string): string | null },
  now: number,
): number | undefined {
  const retryAfter = headers.get('retry-after')?.trim();
  if (retryAfter) {
    if (/^\d+$/.test(retryAfter)) return secondsToMs(Number(retryAfter));
    const date = Date.parse(retryAfter);
    if (!Number.isNaN(date)) return Math.max(0, date - now);
  }
  const rateLimitReset = headers.get('ratelimit-reset')?.trim();
  if (rateLimitReset && /^\d+$/.test(rateLimitReset)) return secondsToMs(Number(rateLimitReset));
  const reset = headers.get('x-ratelimit-reset')?.trim();
  if (reset && /^\d+$/.test(reset)) {
    const value = Number(reset);
    // A small number is a delay in seconds, a large one an epoch timestamp.
    const ms = value > 1_000_000_000 ? value * 1000 - now : value * 1000;
    return Math.min(Math.max(0, ms), MAX_DELAY_MS);
  }
  return undefined;
}

function secondsToMs(seconds: number): number {
  return Math.min(seconds * 1000, MAX_DELAY_MS);
}
