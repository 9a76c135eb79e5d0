import { TokenSet } from '../token-set.js';

/**
 * An API key is kept as a never-expiring "token" of its own type, so it flows
 * through the same store, cache and fetch as OAuth tokens; only the header it
 * is sent in differs (the provider profile's `apiKeyHeader`).
 */
export const API_KEY_TOKEN_TYPE = 'ApiKey';

export function apiKeyTokenSet(apiKey: string, now: number): TokenSet {
  return new TokenSet({
    accessToken: apiKey,
    tokenType: API_KEY_TOKEN_TYPE,
    expiresAt: null,
    obtainedAt: now,
  });
}
