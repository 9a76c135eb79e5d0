/**
 * Authorization Code grant (RFC 6749 §4.1) with state and, where the provider
 * supports it, PKCE S256 (RFC 7636). Three steps as library functions, for the
 * CLI and for applications that run their own web server:
 *
 *   createAuthorizationRequest → (the browser) → readAuthorizationResponse → exchangeAuthorizationCode
 */
import * as oauth from 'oauth4webapi';
import { TokenkeeperError } from '../errors.js';
import { readBodyWithLimit } from '../http/bounded-body.js';
import { providerText } from '../http/provider-text.js';
import {
  type ClientConfig,
  type GrantResult,
  requestTokens,
  type TokenRequestContext,
} from './token-endpoint.js';

/** An OAuth error answer is a few hundred bytes; the pre-flight reads no more of a body than this. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

/** The redirect URI that makes a provider show the code in the browser, for pasting. */
export const OUT_OF_BAND_REDIRECT_URI = 'urn:ietf:wg:oauth:2.0:oob';

/** What `createAuthorizationRequest` needs: the authorization endpoint, client, redirect URI, scope, PKCE. */
export interface AuthorizationRequestOptions {
  authorizationUrl: string;
  clientId: string;
  redirectUri: string;
  scope?: string;
  /** Send a PKCE S256 code challenge. */
  pkce: boolean;
  /** Extra query parameters (e.g. resource_owner_type=company). */
  extraParameters?: Record<string, string>;
  /** A state generated beforehand (e.g. to start the loopback receiver first); random by default. */
  state?: string;
}

/** A started authorization: the URL to send the person to, and the state (and PKCE verifier) to keep. */
export interface AuthorizationRequest {
  /** Open this in the user's browser. */
  url: URL;
  /** Must come back unchanged with the code. */
  state: string;
  /** Keep it secret; it goes to the token endpoint with the code. */
  codeVerifier?: string;
  redirectUri: string;
}

/** An unguessable state value (32 random bytes, base64url). */
export function generateState(): string {
  return oauth.generateRandomState();
}

/**
 * Starts an authorization code login: a fresh state and, with `pkce`, an S256 challenge.
 *
 * @example
 * const request = await createAuthorizationRequest({ authorizationUrl, clientId, redirectUri, scope: 'read write', pkce: false });
 * // keep request.state (and request.codeVerifier) in the session, then redirect to request.url
 */
export async function createAuthorizationRequest(
  options: AuthorizationRequestOptions,
): Promise<AuthorizationRequest> {
  const url = new URL(options.authorizationUrl);
  const state = options.state ?? generateState();
  url.searchParams.set('client_id', options.clientId);
  url.searchParams.set('redirect_uri', options.redirectUri);
  url.searchParams.set('response_type', 'code');
  if (options.scope) url.searchParams.set('scope', options.scope);
  url.searchParams.set('state', state);
  let codeVerifier: string | undefined;
  if (options.pkce) {
    codeVerifier = oauth.generateRandomCodeVerifier();
    url.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(codeVerifier));
    url.searchParams.set('code_challenge_method', 'S256');
  }
  for (const [key, value] of Object.entries(options.extraParameters ?? {})) url.searchParams.set(key, value);
  return { url, state, ...(codeVerifier ? { codeVerifier } : {}), redirectUri: options.redirectUri };
}

/** What readAuthorizationResponse needs besides the request and the response. */
export interface AuthorizationResponseContext {
  /**
   * The issuer, when known from discovery: an `iss` in the response (RFC 9207) must then match
   * it, which stops a mix-up between providers. Without it, an `iss` is not checked.
   */
  issuer?: string;
  /** Where the person fixes the OAuth client, named in error messages. */
  clientRegistrationHint?: string;
  /**
   * The code comes through the person, not through a redirect: the provider showed it
   * (redirect URI `urn:ietf:wg:oauth:2.0:oob`) and they pasted it. Only then is a bare
   * code, with no state to check, accepted.
   */
  outOfBand?: boolean;
}

/**
 * Checks what came back to the redirect URI: the state must be ours (a different or
 * missing one means the response was not for this login: possibly forged), and an
 * error is turned into plain words. `response` may be the whole redirected URL or
 * its query string, whose state is always checked; or, only with
 * `{ outOfBand: true }`, a bare code as the provider showed it.
 *
 * @example
 * const code = readAuthorizationResponse(request, callbackUrl);                        // a web app
 * const code = readAuthorizationResponse(request, pasted, { outOfBand: true });        // a pasted code
 */
export function readAuthorizationResponse(
  request: Pick<AuthorizationRequest, 'state'>,
  response: URL | URLSearchParams | string,
  context: AuthorizationResponseContext = {},
): string {
  const params = toParams(response);
  if (params === undefined) {
    if (context.outOfBand) return bareCode(String(response));
    throw new TokenkeeperError(
      'AUTHORIZATION',
      'Got a bare code where the whole redirect URL was expected: without its state it cannot be told from a forged one. ' +
        'Pass the URL the browser came back to; for a code the provider showed for pasting, pass { outOfBand: true }.',
    );
  }
  if (typeof request.state !== 'string' || request.state === '') {
    // What a web app passes when no login was started in this session (its saved state is
    // undefined): oauth4webapi would then accept a response without a state, which is
    // exactly the forged one (login CSRF).
    throw new TokenkeeperError(
      'AUTHORIZATION',
      'No state to check the authorization response against: no login was started here, or its state was not kept. ' +
        'Keep the state that createAuthorizationRequest returned (in the session) and pass it; nothing was saved.',
    );
  }
  // An `iss` in the response (RFC 9207) is checked against the issuer when it is known; without
  // one there is nothing to check it against, as for any client that does not know the issuer.
  const issuer = context.issuer ?? params.get('iss') ?? 'urn:tokenkeeper:unknown-issuer';
  const as: oauth.AuthorizationServer = { issuer };
  const client: oauth.Client = { client_id: 'tokenkeeper' };
  try {
    const code = oauth.validateAuthResponse(as, client, params, request.state).get('code');
    if (!code) throw new TokenkeeperError('AUTHORIZATION', 'The authorization response carried no code.');
    return code;
  } catch (error) {
    if (error instanceof TokenkeeperError) throw error;
    if (error instanceof oauth.AuthorizationResponseError) {
      throw describeAuthorizationError(error.error, error.error_description, context.clientRegistrationHint);
    }
    const message = error instanceof Error ? error.message : String(error);
    if (/state/i.test(message)) {
      throw new TokenkeeperError(
        'AUTHORIZATION',
        'The authorization response did not carry the state this login sent: it may not be from this login (possibly forged). Nothing was saved; run the login again.',
      );
    }
    throw new TokenkeeperError(
      'AUTHORIZATION',
      `The authorization response is not valid (${providerText(message)}); run the login again.`,
    );
  }
}

/** Authorization-server errors in plain words, with what to fix. The provider's words are made printable. */
export function describeAuthorizationError(
  providerError: string,
  providerDescription: string | undefined,
  registrationHint = 'the OAuth application’s settings at the provider',
): TokenkeeperError {
  const error = providerText(providerError);
  const description = providerDescription === undefined ? undefined : providerText(providerDescription);
  const detail = description ? ` (${description})` : '';
  const advice: Record<string, string> = {
    access_denied: 'Access was declined in the browser. Run the login again and choose Authorize.',
    invalid_client: `The provider does not recognise this client id. Check the client id in ${registrationHint}.`,
    unauthorized_client: `This client may not use the authorization code flow. Check ${registrationHint}.`,
    invalid_redirect_uri: `The redirect URI is not the one registered. Register it in ${registrationHint}, or pass --redirect-uri with the registered one.`,
    invalid_scope: 'The requested scope is not allowed for this client. Ask for another --scope.',
    unsupported_response_type: 'The provider does not allow the authorization code flow for this client.',
    server_error: 'The provider failed; try again later.',
    temporarily_unavailable: 'The provider is temporarily unavailable; try again later.',
  };
  return new TokenkeeperError(
    'AUTHORIZATION',
    `The provider refused the authorization: ${error}${detail}. ${Object.hasOwn(advice, error) ? advice[error] : 'Run the login again.'}`,
    { error, ...(description ? { errorDescription: description } : {}) },
  );
}

/**
 * Asks the authorization endpoint about the request before a browser is involved:
 * mistakes that the provider shows as an error page, instead of redirecting back
 * (unknown client, unregistered redirect URI), surface here in plain words.
 */
export async function checkAuthorizationRequest(
  request: Pick<AuthorizationRequest, 'url' | 'redirectUri'>,
  options: { fetch: typeof fetch; timeoutMs: number; clientRegistrationHint?: string },
): Promise<void> {
  let response: Response;
  try {
    response = await options.fetch(request.url, {
      redirect: 'manual',
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(options.timeoutMs),
    });
  } catch (error) {
    const code = (error as { cause?: { code?: string } }).cause?.code;
    throw new TokenkeeperError(
      'NETWORK',
      `Could not reach the authorization endpoint at ${request.url.origin}${code ? ` (${code})` : ''}. Check the URL and your network.`,
    );
  }
  if (response.status >= 400) {
    const body = parseJsonObject(await readErrorBody(response));
    if (typeof body?.error === 'string') {
      throw describeAuthorizationError(
        body.error,
        typeof body.error_description === 'string' ? body.error_description : undefined,
        options.clientRegistrationHint,
      );
    }
    throw new TokenkeeperError(
      'AUTHORIZATION',
      `The authorization endpoint refused the request (HTTP ${response.status}). Check the client id and the redirect URI registered with the provider.`,
      { status: response.status },
    );
  }
  // A login page or a redirect: its body says nothing the pre-flight needs.
  await response.body?.cancel();
  const location = response.headers.get('location');
  if (location?.startsWith(request.redirectUri)) {
    const params = new URL(location, request.url).searchParams;
    const error = params.get('error');
    if (error)
      throw describeAuthorizationError(
        error,
        params.get('error_description') ?? undefined,
        options.clientRegistrationHint,
      );
  }
}

/** An error page is read up to MAX_ERROR_BODY_BYTES; a longer one is not an OAuth error, so it reads as ''. */
async function readErrorBody(response: Response): Promise<string> {
  try {
    return Buffer.from(await readBodyWithLimit(response, MAX_ERROR_BODY_BYTES)).toString('utf8');
  } catch {
    return '';
  }
}

function parseJsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export function exchangeAuthorizationCode(
  config: ClientConfig,
  grant: { code: string; redirectUri: string; codeVerifier?: string },
  ctx: TokenRequestContext,
): Promise<GrantResult> {
  return requestTokens(
    config,
    ctx,
    [grant.code, grant.codeVerifier],
    (as, client, auth, options) =>
      oauth.authorizationCodeGrantRequest(
        as,
        client,
        auth,
        // The state was checked when the response was read (readAuthorizationResponse).
        oauth.validateAuthResponse(
          as,
          client,
          new URLSearchParams({ code: grant.code }),
          oauth.skipStateCheck,
        ),
        grant.redirectUri,
        grant.codeVerifier ?? oauth.nopkce,
        options,
      ),
    (as, client, response) => oauth.processAuthorizationCodeResponse(as, client, response),
  );
}

/** The query of a URL or query string; undefined for a bare code (no scheme, no `=`). */
function toParams(response: URL | URLSearchParams | string): URLSearchParams | undefined {
  if (response instanceof URL) return response.searchParams;
  if (response instanceof URLSearchParams) return response;
  const text = response.trim();
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    if (!URL.canParse(text)) {
      throw new TokenkeeperError(
        'AUTHORIZATION',
        'The URL given is not valid; pass the whole address the browser came back to.',
      );
    }
    return new URL(text).searchParams;
  }
  if (text.includes('=')) return new URLSearchParams(text.startsWith('?') ? text.slice(1) : text);
  return undefined;
}

function bareCode(pasted: string): string {
  const code = pasted.trim();
  if (!code) throw new TokenkeeperError('AUTHORIZATION', 'No code was given; run the login again.');
  return code;
}
