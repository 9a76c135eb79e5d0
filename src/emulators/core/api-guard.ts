/**
 * Wraps an API handler: Bearer access token required (401 otherwise) — or, when the
 * provider has API keys, a key header that wins over the Bearer token — then the scopes
 * the request needs (403), then a rate limit per token subject; every response that passed
 * authentication and counts against a limit carries `X-RateLimit-Limit` and
 * `X-RateLimit-Remaining` (429s add `Retry-After` and `X-RateLimit-Reset`).
 */
import type { ErrorStyle, UnauthenticatedReason } from './error-style.js';
import { type FaultInjector, noFaults } from './faults.js';
import { type FixedWindowRateLimiter, rateLimitHeaders } from './rate-limiter.js';
import {
  type EmulatorRequest,
  type EmulatorResponse,
  headerValue,
  jsonResponse,
  type RouteHandler,
} from './router.js';
import type { EmulatorStatsCounter } from './stats.js';
import type { AccessTokenRecord, TokenAuthority } from './token-authority.js';

/** Who an API request authenticated as and what it may do: what the guard hands a provider's API handler. */
export interface ApiAuth {
  /** Who the request acts for: the token's user (the JWT `sub`), or what an API key stands for. */
  subject: string;
  /** The client the token was issued to; '' for an API key. */
  clientId: string;
  /** How the request authenticated. */
  method: 'bearer' | 'api_key';
  /** What the request may do: the token's scopes, or everything an API key grants. */
  scopes: readonly string[];
  /** The token, for Bearer requests; absent for an API key. */
  accessToken?: AccessTokenRecord;
}

/** A provider's API route behind the guard: it runs only for an authenticated, in-scope request within the rate limit. */
export type ApiHandler = (
  request: EmulatorRequest,
  auth: ApiAuth,
) => EmulatorResponse | Promise<EmulatorResponse>;

/** A rate-limit bucket with its own limit per window. */
export interface RateLimitBucket {
  key: string;
  limit: number;
}

/** API keys sent in their own header; when that header is present it wins over `Authorization`. */
export interface ApiKeyAuthentication {
  /** The header name, e.g. `x-api-key`. */
  header: string;
  /** What the key stands for, or undefined for a key that is not known (401). */
  authenticate(key: string): Omit<ApiAuth, 'method' | 'accessToken'> | undefined;
}

export interface ApiGuardOptions {
  authority: TokenAuthority;
  errorStyle: ErrorStyle;
  stats: EmulatorStatsCounter;
  limiter: FixedWindowRateLimiter;
  /**
   * The bucket a request counts against (a key, or a key with its own limit), or undefined
   * for no limit. Default: the token subject, with the limiter's limit.
   */
  rateLimitKey?: (request: EmulatorRequest, auth: ApiAuth) => string | RateLimitBucket | undefined;
  /** API keys accepted besides Bearer tokens. Default: none. */
  apiKey?: ApiKeyAuthentication;
  /** The scopes a request needs; one missing → `errorStyle.insufficientScope` (403). Default: none. */
  requiredScopes?: (request: EmulatorRequest) => readonly string[];
  /**
   * For scope rules that are not "all of these" (any one of several scopes will do): the
   * scopes to name in the 403 when the credential may not make the request, else undefined.
   * Checked after `requiredScopes`.
   */
  missingScopes?: (request: EmulatorRequest, auth: ApiAuth) => readonly string[] | undefined;
  faults?: FaultInjector;
}

/**
 * Puts an API handler behind authentication, scopes and the rate limit (and the `api` fault
 * point), so a provider registers plain handlers and every API route refuses the same way.
 */
export type ApiGuard = (handler: ApiHandler) => RouteHandler;

export function createApiGuard(options: ApiGuardOptions): ApiGuard {
  const faults = options.faults ?? noFaults;
  const rateLimitKey = options.rateLimitKey ?? ((_request, auth) => `user:${auth.subject}`);
  const insufficientScope =
    options.errorStyle.insufficientScope?.bind(options.errorStyle) ??
    (() => jsonResponse(403, { error: 'insufficient_scope' }));

  return (handler) => (request) =>
    faults.around('api', request, async () => {
      options.stats.apiRequest();
      const authenticated = authenticate(request, options);
      if (!authenticated.ok) {
        options.stats.unauthorized();
        return options.errorStyle.unauthenticated(authenticated.reason);
      }
      const { auth } = authenticated;

      // Doorkeeper revokes the previous refresh token as soon as it authenticates the new access token.
      if (auth.accessToken) options.authority.markUsed(auth.accessToken);

      const required = options.requiredScopes?.(request) ?? [];
      if (required.some((scope) => !auth.scopes.includes(scope))) return insufficientScope(required);
      const missing = options.missingScopes?.(request, auth);
      if (missing !== undefined) return insufficientScope(missing);

      const bucket = rateLimitKey(request, auth);
      if (bucket === undefined) return handler(request, auth);
      const decision =
        typeof bucket === 'string'
          ? options.limiter.hit(bucket)
          : options.limiter.hit(bucket.key, bucket.limit);
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

type Authenticated = { ok: true; auth: ApiAuth } | { ok: false; reason: UnauthenticatedReason };

function authenticate(request: EmulatorRequest, options: ApiGuardOptions): Authenticated {
  if (options.apiKey) {
    const key = headerValue(request, options.apiKey.header);
    if (key !== undefined) {
      const found = options.apiKey.authenticate(key.trim());
      return found
        ? { ok: true, auth: { ...found, method: 'api_key' } }
        : { ok: false, reason: 'invalid_api_key' };
    }
  }
  const token = bearerToken(request);
  if (!token.ok) return { ok: false, reason: token.reason };
  const check = options.authority.verifyAccessToken(token.value);
  if (!check.ok) return { ok: false, reason: check.reason };
  const accessToken = check.record;
  return {
    ok: true,
    auth: {
      subject: accessToken.userId,
      clientId: accessToken.clientId,
      method: 'bearer',
      scopes: accessToken.scopes,
      accessToken,
    },
  };
}

type BearerToken = { ok: true; value: string } | { ok: false; reason: 'missing' | 'malformed' };

function bearerToken(request: EmulatorRequest): BearerToken {
  const header = headerValue(request, 'authorization');
  if (header === undefined || header.trim() === '') return { ok: false, reason: 'missing' };
  const match = header.match(/^Bearer\s+(\S+)\s*$/i);
  return match ? { ok: true, value: match[1] as string } : { ok: false, reason: 'malformed' };
}
