/**
 * When may we try again? Pure parsing of `Retry-After` (RFC 9110: delay in
 * seconds or an HTTP date) and of the `X-RateLimit-Reset` unix timestamp many
 * APIs (Laravel, Factus) send with a 429. Returns a delay in ms, or undefined.
 */
export function parseRetryAfter(headers: Headers, now: number): number | undefined {
  const retryAfter = headers.get('retry-after')?.trim();
  if (retryAfter) {
    if (/^\d+$/.test(retryAfter)) return Number(retryAfter) * 1000;
    const date = Date.parse(retryAfter);
    if (!Number.isNaN(date)) return Math.max(0, date - now);
  }
  const reset = headers.get('x-ratelimit-reset')?.trim();
  if (reset && /^\d+$/.test(reset)) {
    const value = Number(reset);
    // A small number is a delay in seconds, a large one an epoch timestamp.
    const ms = value > 1_000_000_000 ? value * 1000 - now : value * 1000;
    return Math.max(0, ms);
  }
  return undefined;
}
