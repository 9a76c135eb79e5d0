/**
 * The HTTP half of a session, loaded on a connection's first request: a process
 * that only reads tokens never imports it.
 */
import { type AuthFetchOptions, authFetch } from '../http/auth-fetch.js';
import { createRateLimitGate, type SharedBudgets } from '../http/rate-limit-gate.js';
import type { RateLimitRule } from '../http/rate-limiter.js';
import type { KeeperSettings } from '../options.js';

export type { SharedBudgets };
export { authFetch };

/**
 * What stays the same across a connection's requests, built once per base URL. With
 * `shared`, the rate limits are counted in the store, together with every other process.
 */
export function requestOptionsFor(
  settings: Pick<KeeperSettings, 'fetch' | 'pacingClock' | 'rateLimit' | 'maxRedirects' | 'api'>,
  baseUrl: string,
  rateLimits: readonly RateLimitRule[],
  credentialHeaders: readonly string[] = [],
  shared?: SharedBudgets,
  on: Pick<AuthFetchOptions, 'onSlotWait' | 'onRetryWait'> = {},
): AuthFetchOptions {
  const { onSlotWait, onRetryWait } = on;
  const gate = createRateLimitGate(rateLimits, settings.pacingClock, shared);
  return {
    fetch: settings.fetch,
    baseUrl,
    ...(gate ? { gate } : {}),
    ...(gate && onSlotWait ? { onSlotWait } : {}),
    ...(onRetryWait ? { onRetryWait } : {}),
    clock: settings.pacingClock,
    maxRetryAfterMs: settings.rateLimit.maxRetryAfterMs,
    maxRateLimitRetries: settings.rateLimit.maxRetries,
    rateLimitBackoff: settings.rateLimit.backoff,
    maxRedirects: settings.maxRedirects,
    credentialHeaders: credentialHeaders.map((name) => name.toLowerCase()),
    ...(settings.api.timeoutMs === undefined ? {} : { timeoutMs: settings.api.timeoutMs }),
    maxRetries: settings.api.maxRetries,
    retryBackoff: settings.api.backoff,
  };
}
