/**
 * How a provider words its errors. The token endpoint and the API guard decide WHAT went
 * wrong (an OAuthFailure, an UnauthenticatedReason); an ErrorStyle decides how that looks
 * on the wire. League/Passport (Factus) is here; a Doorkeeper style (Factorial) is one
 * more object implementing the same interface.
 */
import type { AuthorizationCodeFailure } from './authorization-codes.js';
import type { RateLimitDecision } from './rate-limiter.js';
import { type EmulatorRequest, type EmulatorResponse, jsonResponse } from './router.js';
import type { AccessTokenFailure, RefreshTokenFailure } from './token-authority.js';

/** What went wrong at the token endpoint, before any wording: an ErrorStyle decides the status and body. */
export type OAuthFailure =
  | { kind: 'invalid_request'; parameter: string }
  | { kind: 'invalid_client'; basicAuthUsed: boolean }
  | { kind: 'invalid_user_credentials' }
  | { kind: 'invalid_refresh_token'; reason: RefreshTokenFailure }
  | { kind: 'invalid_authorization_code'; reason: AuthorizationCodeFailure }
  /** A refresh asking for a scope the token was not granted. */
  | { kind: 'invalid_scope'; scope: string }
  | { kind: 'unsupported_grant_type' };

/** Why an API request is refused with 401; `invalid_api_key` when an API key header was sent and is not known. */
export type UnauthenticatedReason = 'missing' | 'malformed' | 'invalid_api_key' | AccessTokenFailure;

/** A token endpoint error response that also says which OAuth `error` code it carries. */
export interface OAuthErrorResponse extends EmulatorResponse {
  error: string;
}

/**
 * How one provider words every refusal (token errors, 401, 403, 404, 405, 413, 429, 500), so
 * the shared core answers in the provider's own shapes and clients are tested against them.
 */
export interface ErrorStyle {
  tokenError(failure: OAuthFailure): OAuthErrorResponse;
  /** API request without a usable access token. */
  unauthenticated(reason: UnauthenticatedReason): EmulatorResponse;
  /** Over the rate limit; the guard adds the rate-limit headers. */
  rateLimited(decision: RateLimitDecision): EmulatorResponse;
  /** Authenticated, but the token lacks a scope the request needs. Default: a bare 403 `insufficient_scope`. */
  insufficientScope?(required: readonly string[]): EmulatorResponse;
  notFound(request: EmulatorRequest): EmulatorResponse;
  methodNotAllowed(request: EmulatorRequest, allowed: string[]): EmulatorResponse;
  payloadTooLarge(maxBodyBytes: number): EmulatorResponse;
  serverError(): EmulatorResponse;
}

const LEAGUE_INVALID_REQUEST =
  'The request is missing a required parameter, includes an invalid parameter value, ' +
  'includes a parameter more than once, or is otherwise malformed.';

const LEAGUE_REFRESH_HINTS: Record<RefreshTokenFailure, string> = {
  unknown: 'Cannot decrypt the refresh token',
  wrong_client: 'Token is not linked to client',
  expired: 'Token has expired',
  revoked: 'Token has been revoked',
};

const LEAGUE_CODE_HINTS: Record<AuthorizationCodeFailure, string> = {
  unknown: 'Cannot decrypt the authorization code',
  wrong_client: 'Authorization code was not issued to this client',
  expired: 'Authorization code has expired',
  used: 'Authorization code has been revoked',
  redirect_uri_mismatch: 'Invalid redirect URI',
};

/** league/oauth2-server ≥ 8 error body: `{error, error_description, hint?, message}` (message repeats the description). */
function leagueError(
  status: number,
  error: string,
  description: string,
  hint?: string,
  headers: Record<string, string> = {},
): OAuthErrorResponse {
  const body: Record<string, string> = { error, error_description: description };
  if (hint !== undefined) body.hint = hint;
  body.message = description;
  return { ...jsonResponse(status, body, headers), error };
}

/** Laravel Passport on league/oauth2-server, as Factus runs it. */
export const leagueErrorStyle: ErrorStyle = {
  tokenError(failure) {
    switch (failure.kind) {
      case 'invalid_request':
        return leagueError(
          400,
          'invalid_request',
          LEAGUE_INVALID_REQUEST,
          `Check the \`${failure.parameter}\` parameter`,
        );
      case 'invalid_client':
        return leagueError(
          401,
          'invalid_client',
          'Client authentication failed',
          undefined,
          failure.basicAuthUsed ? { 'www-authenticate': 'Basic realm="OAuth"' } : {},
        );
      case 'invalid_user_credentials':
        return leagueError(400, 'invalid_grant', 'The user credentials were incorrect.');
      case 'invalid_refresh_token':
        return leagueError(
          400,
          'invalid_grant',
          'The refresh token is invalid.',
          LEAGUE_REFRESH_HINTS[failure.reason],
        );
      case 'invalid_authorization_code':
        return leagueError(
          400,
          'invalid_grant',
          'The provided authorization grant (e.g., authorization code, resource owner credentials) or ' +
            'refresh token is invalid, expired, revoked, does not match the redirection URI used in the ' +
            'authorization request, or was issued to another client.',
          LEAGUE_CODE_HINTS[failure.reason],
        );
      case 'invalid_scope':
        return leagueError(
          400,
          'invalid_scope',
          'The requested scope is invalid, unknown, or malformed',
          `Check the \`${failure.scope}\` scope`,
        );
      case 'unsupported_grant_type':
        return leagueError(
          400,
          'unsupported_grant_type',
          'The authorization grant type is not supported by the authorization server.',
          'Check the `grant_type` parameter',
        );
    }
  },
  unauthenticated: () => jsonResponse(401, { message: 'Unauthenticated.' }),
  rateLimited: () => jsonResponse(429, { message: 'Too Many Attempts.' }),
  notFound: (request) =>
    jsonResponse(404, { message: `The route ${request.path.slice(1)} could not be found.` }),
  methodNotAllowed: (request, allowed) =>
    jsonResponse(
      405,
      {
        message: `The ${request.method} method is not supported for route ${request.path.slice(1)}. Supported methods: ${allowed.join(', ')}.`,
      },
      { allow: allowed.join(', ') },
    ),
  payloadTooLarge: (maxBodyBytes) =>
    jsonResponse(413, { message: `The request body is larger than ${maxBodyBytes} bytes.` }),
  serverError: () => jsonResponse(500, { message: 'Server Error' }),
};
