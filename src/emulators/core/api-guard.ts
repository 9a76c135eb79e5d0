/**
 * Wraps an API handler: Bearer access token required (401 otherwise), then a rate limit
 * per token subject; every response that passed authentication carries
 * `X-RateLimit-Limit` and `X-RateLimit-Remaining` (429s add `Retry-After` and `X-RateLimit-Reset`).
 */
import type { ErrorStyle, UnauthenticatedReason } from './error-style.js';
import { type FaultInjector, noFaults } from './faults.js';
import { type FixedWindowRateLimiter, rateLimitHeaders } from './rate-limiter.js';
import { type EmulatorRequest, type EmulatorResponse, headerValue, type RouteHandler } from './router.js';
import type { EmulatorStatsCounter } from './stats.js';
import type { AccessTokenRecord, TokenAuthority } from './token-authority.js';

export interface ApiAuth {
  /** The user the token was issued for (the JWT `sub`). */
  subject: string;
  clientId: string;
  accessToken: AccessTokenRecord;
}

export type ApiHandler = (
  request: EmulatorRequest,
  auth: ApiAuth,
) => EmulatorResponse | Promise<EmulatorResponse>;

export interface ApiGuardOptions {
  authority: TokenAuthority;
  errorStyle: ErrorStyle;
  stats: EmulatorStatsCounter;
  limiter: FixedWindowRateLimiter;
  /** The bucket a request counts against, or undefined for no limit. Default: the token subject. */
  rateLimitKey?: (request: EmulatorRequest, auth: ApiAuth) => string | undefined;
  faults?: FaultInjector;
}

export type ApiGuard = (handler: ApiHandler) => RouteHandler;

export function createApiGuard(options: ApiGuardOptions): ApiGuard {
  const faults = options.faults ?? noFaults;
  const rateLimitKey = options.rateLimitKey ?? ((_request, auth) => `user:${auth.subject}`);

  return (handler) => (request) =>
    faults.around('api', request, async () => {
      options.stats.apiRequest();
      const token = bearerToken(request);
      let reason: UnauthenticatedReason | undefined = token.ok ? undefined : token.reason;
      let accessToken: AccessTokenRecord | undefined;
      if (token.ok) {
        const check = options.authority.verifyAccessToken(token.value);
        if (check.ok) accessToken = check.record;
        else reason = check.reason;
      }
      if (!accessToken) {
        options.stats.unauthorized();
        return options.errorStyle.unauthenticated(reason ?? 'unknown');
      }

      const auth: ApiAuth = { subject: accessToken.userId, clientId: accessToken.clientId, accessToken };
      const key = rateLimitKey(request, auth);
      if (key === undefined) return handler(request, auth);
      const decision = options.limiter.hit(key);
      const headers = rateLimitHeaders(decision);
      if (!decision.allowed) {
        options.stats.rateLimited();
        const refused = options.errorStyle.rateLimited(decision);
        return { ...refused, headers: { ...refused.headers, ...headers } };
      }
      const response = await handler(request, auth);
      return { ...response, headers: { ...response.headers, ...headers } };
    });
}

type BearerToken = { ok: true; value: string } | { ok: false; reason: 'missing' | 'malformed' };

function bearerToken(request: EmulatorRequest): BearerToken {
  const header = headerValue(request, 'authorization');
  if (header === undefined || header.trim() === '') return { ok: false, reason: 'missing' };
  const match = header.match(/^Bearer\s+(\S+)\s*$/i);
  return match ? { ok: true, value: match[1] as string } : { ok: false, reason: 'malformed' };
}
