/**
 * `POST /oauth/token`, league order: pick the grant by `grant_type`, authenticate the
 * client (form fields first, then HTTP Basic), then let the grant do its part. Grants
 * are plain functions registered per `grant_type`, so a provider adds
 * `authorization_code` without touching this file.
 */
import { parseFormBody } from './body.js';
import type { ErrorStyle, OAuthFailure } from './error-style.js';
import { type FaultInjector, noFaults } from './faults.js';
import {
  type EmulatorRequest,
  type EmulatorResponse,
  headerValue,
  jsonResponse,
  type RouteHandler,
} from './router.js';
import type { EmulatorStatsCounter } from './stats.js';
import type { ClientRecord, IssuedTokens, TokenAuthority } from './token-authority.js';

/** What a grant is given once the token endpoint has picked it and authenticated the client. */
export interface GrantContext {
  /** The token request's form fields. */
  params: Record<string, string>;
  /** The authenticated client. */
  client: ClientRecord;
  authority: TokenAuthority;
  request: EmulatorRequest;
}

/** Tokens for the token endpoint to send, or the failure the provider's ErrorStyle words. */
export type GrantOutcome = { ok: true; tokens: IssuedTokens } | { ok: false; failure: OAuthFailure };
/** One `grant_type` of the token endpoint, registered by name, so a provider adds grants without touching it. */
export type GrantHandler = (context: GrantContext) => GrantOutcome | Promise<GrantOutcome>;

export interface TokenEndpointOptions {
  authority: TokenAuthority;
  /** Keyed by `grant_type`. */
  grants: Readonly<Record<string, GrantHandler>>;
  errorStyle: ErrorStyle;
  stats: EmulatorStatsCounter;
  faults?: FaultInjector;
  /** Success body; default {@link bearerTokenResponseBody}. */
  tokenResponseBody?: (tokens: IssuedTokens) => Record<string, unknown>;
}

/** `{token_type, expires_in, access_token, refresh_token?}` (no `refresh_token` key when none was issued). */
export function bearerTokenResponseBody(tokens: IssuedTokens): Record<string, unknown> {
  const body: Record<string, unknown> = {
    token_type: 'Bearer',
    expires_in: tokens.expiresInSeconds,
    access_token: tokens.accessToken.token,
  };
  if (tokens.refreshToken) body.refresh_token = tokens.refreshToken.token;
  return body;
}

export function createTokenEndpoint(options: TokenEndpointOptions): RouteHandler {
  const faults = options.faults ?? noFaults;
  const responseBody = options.tokenResponseBody ?? bearerTokenResponseBody;

  const fail = (failure: OAuthFailure): EmulatorResponse => {
    const response = options.errorStyle.tokenError(failure);
    if (response.error === 'invalid_grant') options.stats.invalidGrant();
    const { error: _error, ...plain } = response;
    return plain;
  };

  const answer = async (request: EmulatorRequest): Promise<EmulatorResponse> => {
    const params = await parseFormBody(request);
    const grantType = params.grant_type;
    options.stats.tokenRequest(grantType);
    const grant =
      grantType !== undefined && Object.hasOwn(options.grants, grantType)
        ? options.grants[grantType]
        : undefined;
    if (!grant) return fail({ kind: 'unsupported_grant_type' });

    const credentials = clientCredentials(request, params);
    if (!credentials.clientId) return fail({ kind: 'invalid_request', parameter: 'client_id' });
    const client = authenticate(options.authority, credentials);
    if (!client) return fail({ kind: 'invalid_client', basicAuthUsed: credentials.basicAuthUsed });

    const outcome = await grant({ params, client, authority: options.authority, request });
    if (!outcome.ok) return fail(outcome.failure);
    return jsonResponse(200, responseBody(outcome.tokens), {
      'cache-control': 'no-store',
      pragma: 'no-cache',
    });
  };

  return (request) => faults.around('token', request, () => answer(request));
}

export interface ClientAuthentication {
  /** The authenticated client, undefined when authentication failed or none was sent. */
  client?: ClientRecord;
  /** The client id the request claimed (form field, else HTTP Basic user). */
  clientId?: string;
  basicAuthUsed: boolean;
}

/**
 * Client authentication exactly as the token endpoint does it (form fields first, then
 * HTTP Basic), for sibling endpoints such as token revocation.
 */
export function authenticateClientRequest(
  request: EmulatorRequest,
  params: Record<string, string>,
  authority: TokenAuthority,
): ClientAuthentication {
  const credentials = clientCredentials(request, params);
  const client = credentials.clientId ? authenticate(authority, credentials) : undefined;
  return { client, clientId: credentials.clientId, basicAuthUsed: credentials.basicAuthUsed };
}

interface ClientCredentials {
  clientId?: string;
  clientSecret?: string;
  basicAuthUsed: boolean;
  /** The Basic credentials form-urldecoded (RFC 6749 §2.3.1), tried when the raw ones fail. */
  decoded?: { clientId: string; clientSecret: string };
}

/** Form fields win over HTTP Basic, as in league. */
function clientCredentials(request: EmulatorRequest, params: Record<string, string>): ClientCredentials {
  const basic = basicAuth(request);
  const clientId = params.client_id ?? basic?.user;
  const clientSecret = params.client_secret ?? basic?.password;
  const credentials: ClientCredentials = { clientId, clientSecret, basicAuthUsed: basic !== undefined };
  if (basic && params.client_id === undefined && params.client_secret === undefined) {
    try {
      const decode = (value: string) => decodeURIComponent(value.replace(/\+/g, ' '));
      credentials.decoded = { clientId: decode(basic.user), clientSecret: decode(basic.password) };
    } catch {
      // not form-encoded: the raw values are all there is
    }
  }
  return credentials;
}

function authenticate(authority: TokenAuthority, credentials: ClientCredentials): ClientRecord | undefined {
  if (credentials.clientId === undefined || credentials.clientSecret === undefined) return undefined;
  const client = authority.authenticateClient(credentials.clientId, credentials.clientSecret);
  if (client || !credentials.decoded) return client;
  return authority.authenticateClient(credentials.decoded.clientId, credentials.decoded.clientSecret);
}

function basicAuth(request: EmulatorRequest): { user: string; password: string } | undefined {
  const header = headerValue(request, 'authorization');
  const match = header?.match(/^Basic\s+(\S+)\s*$/i);
  if (!match) return undefined;
  const decoded = Buffer.from(match[1] as string, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
