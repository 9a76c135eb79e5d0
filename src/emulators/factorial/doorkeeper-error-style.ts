/**
 * Doorkeeper (Rails) as Factorial runs it: `{"error","error_description"}` bodies worded
 * with Doorkeeper's own English messages, a `WWW-Authenticate: Bearer realm="Doorkeeper", …`
 * challenge on token endpoint errors and on refused access tokens, 401 for client
 * authentication, 400 for the rest.
 */
import type { ErrorStyle, OAuthErrorResponse, UnauthenticatedReason } from '../core/error-style.js';
import { type EmulatorResponse, jsonResponse } from '../core/router.js';

export const DOORKEEPER_REALM = 'Doorkeeper';

/** Doorkeeper's `config/locales/en.yml`. */
export const DOORKEEPER_MESSAGES = {
  invalid_request:
    'The request is missing a required parameter, includes an unsupported parameter value, or is otherwise malformed.',
  invalid_redirect_uri: "The requested redirect uri is malformed or doesn't match client redirect URI.",
  unauthorized_client: 'The client is not authorized to perform this request using this method.',
  access_denied: 'The resource owner or authorization server denied the request.',
  invalid_scope: 'The requested scope is invalid, unknown, or malformed.',
  server_error:
    'The authorization server encountered an unexpected condition which prevented it from fulfilling the request.',
  unsupported_response_type: 'The authorization server does not support this response type.',
  invalid_client:
    'Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.',
  invalid_grant:
    'The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.',
  unsupported_grant_type: 'The authorization grant type is not supported by the authorization server.',
  revoke_unauthorized: 'You are not authorized to revoke this token',
} as const;

export function missingParameterMessage(parameter: string): string {
  return `Missing required parameter: ${parameter}.`;
}

const INVALID_TOKEN_MESSAGES: Record<Exclude<UnauthenticatedReason, 'invalid_api_key'>, string> = {
  missing: 'The access token is invalid',
  malformed: 'The access token is invalid',
  unknown: 'The access token is invalid',
  expired: 'The access token expired',
  revoked: 'The access token was revoked',
};

/** Not Doorkeeper's (API keys are Factorial's own); worded like the token messages. */
export const INVALID_API_KEY_MESSAGE = 'The API key is invalid';

/** A `Bearer realm="Doorkeeper", error="…", error_description="…"` challenge (quotes escaped). */
export function bearerChallenge(error: string, description: string): string {
  const quote = (value: string) => `"${value.replace(/[\\"]/g, (character) => `\\${character}`)}"`;
  return `Bearer realm=${quote(DOORKEEPER_REALM)}, error=${quote(error)}, error_description=${quote(description)}`;
}

export interface DoorkeeperErrorStyleOptions {
  /** Send Doorkeeper's `WWW-Authenticate` challenge with token endpoint errors. Default true. */
  tokenErrorChallenges?: boolean;
}

const JSON_UTF8 = 'application/json; charset=utf-8';

/** Refusals worded as Doorkeeper (Factorial) words them, for an emulator of a Doorkeeper provider. */
export function doorkeeperErrorStyle(options: DoorkeeperErrorStyleOptions = {}): ErrorStyle {
  const challenges = options.tokenErrorChallenges ?? true;

  const tokenError = (status: number, error: string, description: string): OAuthErrorResponse => {
    const headers: Record<string, string> = {
      'cache-control': 'no-store, no-cache',
      'content-type': JSON_UTF8,
    };
    if (challenges) headers['www-authenticate'] = bearerChallenge(error, description);
    return { ...jsonResponse(status, { error, error_description: description }, headers), error };
  };
  const invalidGrant = () => tokenError(400, 'invalid_grant', DOORKEEPER_MESSAGES.invalid_grant);
  const invalidClient = () => tokenError(401, 'invalid_client', DOORKEEPER_MESSAGES.invalid_client);

  return {
    tokenError(failure) {
      switch (failure.kind) {
        case 'invalid_request':
          // Doorkeeper finds no client without a client_id: that is a client authentication failure.
          if (failure.parameter === 'client_id') return invalidClient();
          return tokenError(400, 'invalid_request', missingParameterMessage(failure.parameter));
        case 'invalid_client':
          return invalidClient();
        case 'invalid_user_credentials':
        case 'invalid_refresh_token':
        case 'invalid_authorization_code':
          return invalidGrant();
        case 'invalid_scope':
          return tokenError(400, 'invalid_scope', DOORKEEPER_MESSAGES.invalid_scope);
        case 'unsupported_grant_type':
          return tokenError(400, 'unsupported_grant_type', DOORKEEPER_MESSAGES.unsupported_grant_type);
      }
    },
    unauthenticated(reason) {
      if (reason === 'invalid_api_key') {
        return jsonResponse(
          401,
          { error: 'invalid_token', error_description: INVALID_API_KEY_MESSAGE },
          { 'content-type': JSON_UTF8 },
        );
      }
      const description = INVALID_TOKEN_MESSAGES[reason];
      return jsonResponse(
        401,
        { error: 'invalid_token', error_description: description },
        {
          'content-type': JSON_UTF8,
          'cache-control': 'no-store, no-cache',
          'www-authenticate': bearerChallenge('invalid_token', description),
        },
      );
    },
    insufficientScope(required) {
      const description = `Access to this resource requires scope "${required.join(' ')}".`;
      return jsonResponse(
        403,
        { error: 'insufficient_scope', error_description: description },
        { 'content-type': JSON_UTF8, 'www-authenticate': bearerChallenge('insufficient_scope', description) },
      );
    },
    rateLimited: (decision) =>
      jsonResponse(
        429,
        {
          message: `Too many requests: the limit is ${decision.limit} POST requests per minute. Retry in ${decision.retryAfterSeconds} seconds.`,
        },
        { 'content-type': JSON_UTF8 },
      ),
    notFound: (request) =>
      jsonResponse(404, { message: `No route matches [${request.method}] "${request.path}"` }),
    methodNotAllowed: (request, allowed) =>
      jsonResponse(
        405,
        {
          message: `The ${request.method} method is not allowed on ${request.path}; use ${allowed.join(', ')}.`,
        },
        { allow: allowed.join(', ') },
      ),
    payloadTooLarge: (maxBodyBytes): EmulatorResponse =>
      jsonResponse(413, { message: `The request body is larger than ${maxBodyBytes} bytes.` }),
    serverError: () => jsonResponse(500, { message: 'Internal Server Error' }),
  };
}
