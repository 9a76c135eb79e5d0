/**
 * One place where token-endpoint requests are sent and their answers judged.
 * Protocol messages are built and validated by oauth4webapi; this module adds
 * what a credential keeper needs around it: a timeout, a size cap on the body,
 * and errors that say what happened and what to do, with no secret in them.
 */
import * as oauth from 'oauth4webapi';
import { KeeperClosedError, TokenkeeperError } from '../errors.js';
import { BodyTooLargeError } from '../http/bounded-body.js';
import type { BufferedFetch } from '../http/buffered-request.js';
import { codeSuffix, networkFailureOf } from '../http/network-errors.js';
import { providerText, type Redact, secretRedactor } from '../http/provider-text.js';
import { parseRetryAfter } from '../http/retry-after.js';
import { releasableTimeoutUnder } from '../http/timeout-signal.js';
import { isLoopbackUrl } from '../http/urls.js';
import type { ClientAuthMethod } from './types.js';

/** Token responses are a few hundred bytes; anything near this is not one. */
const MAX_TOKEN_RESPONSE_BYTES = 64 * 1024;

export interface ClientConfig {
  tokenUrl: string;
  clientId: string;
  clientSecret?: string;
  clientAuthMethod: ClientAuthMethod;
  /** Issuer identifier when known from discovery; the token URL's origin otherwise. */
  issuer?: string;
}

export interface TokenRequestContext {
  /** KeeperSettings.authServerFetch: node:http, or the keeper's `fetch` option. */
  authServerFetch: BufferedFetch;
  now: () => number;
  timeoutMs: number;
  /**
   * Aborted when the keeper closes and its grace has run out: a request still waiting then is
   * given up, so that its refresh lets go of the connection's lock instead of holding it until
   * the timeout.
   */
  closing?: AbortSignal;
  /** Names the connection in error messages. */
  connection: string;
  /** Names the command that starts over, e.g. "tokenkeeper login acme". */
  loginHint: string;
  /**
   * Set while connect() gets a connection's first tokens: a refusal is then of what this
   * login was just given, not of credentials that used to work.
   */
  loggingIn?: boolean;
}

/** Which endpoint of the authorization server a failure is about, for its message. */
export type AuthServerEndpoint = 'token' | 'revocation';

export interface GrantResult {
  response: oauth.TokenEndpointResponse;
  requestStartedAt: number;
}

type SendRequest = (
  as: oauth.AuthorizationServer,
  client: oauth.Client,
  auth: oauth.ClientAuth,
  options: oauth.TokenEndpointRequestOptions,
) => Promise<Response>;

type ProcessResponse = (
  as: oauth.AuthorizationServer,
  client: oauth.Client,
  response: Response,
) => Promise<oauth.TokenEndpointResponse>;

export function authorizationServerFor(config: ClientConfig): oauth.AuthorizationServer {
  return { issuer: config.issuer ?? new URL(config.tokenUrl).origin, token_endpoint: config.tokenUrl };
}

/**
 * The secrets of one exchange besides the client secret (which the ClientConfig holds):
 * the refresh token, password, authorization code, code verifier or token being revoked.
 * A provider may repeat them in its error text, which then goes into messages and events.
 */
export type SentSecrets = ReadonlyArray<string | undefined>;

/**
 * Takes every secret an exchange sent out of the provider's text, in each form it took on
 * the wire: as given, form-encoded in the body, and (client_secret_basic) encoded in the
 * Basic credentials, both decoded and as the base64 of the header.
 */
export function redactionFor(config: ClientConfig, sent: SentSecrets): Redact {
  const forms: string[] = [];
  for (const secret of [config.clientSecret, ...sent]) {
    if (!secret) continue;
    forms.push(secret, new URLSearchParams({ s: secret }).toString().slice(2), formUrlEncode(secret));
  }
  if (config.clientSecret && config.clientAuthMethod === 'client_secret_basic') {
    forms.push(basicCredentials(config.clientId, config.clientSecret));
  }
  return secretRedactor(forms);
}

/** RFC 6749 §2.3.1's encoding of Basic credentials, as oauth4webapi sends them. */
function formUrlEncode(value: string): string {
  return encodeURIComponent(value).replace(/[-_.!~*'()]|%20/g, (found) =>
    found === '%20' ? '+' : `%${found.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function basicCredentials(clientId: string, clientSecret: string): string {
  return btoa(`${formUrlEncode(clientId)}:${formUrlEncode(clientSecret)}`);
}

export function clientAuthFor(config: ClientConfig): oauth.ClientAuth {
  switch (config.clientAuthMethod) {
    case 'client_secret_basic':
      return oauth.ClientSecretBasic(config.clientSecret ?? '');
    case 'client_secret_post':
      return oauth.ClientSecretPost(config.clientSecret ?? '');
    case 'none':
      return oauth.None();
  }
}

type HttpOptions = ReturnType<typeof httpOptionsWith>;

function httpOptionsWith(
  url: string,
  ctx: Pick<TokenRequestContext, 'authServerFetch'>,
  signal: AbortSignal,
) {
  return {
    signal,
    [oauth.allowInsecureRequests]: isLoopbackUrl(new URL(url)),
    [oauth.customFetch]: (input: string, init: RequestInit) =>
      ctx.authServerFetch(input, init, MAX_TOKEN_RESPONSE_BYTES),
  };
}

/**
 * Runs one request to an authorization server with the options every such request gets:
 * bounded body, timeout, loopback-only http, and the keeper's closing. The answer is read
 * whole within `request` (authServerFetch buffers it), so the timeout ends with it.
 */
export async function withAuthServerOptions<T>(
  url: string,
  ctx: Pick<TokenRequestContext, 'authServerFetch' | 'timeoutMs' | 'closing'>,
  request: (options: HttpOptions) => Promise<T>,
): Promise<T> {
  if (!ctx.closing) return request(httpOptionsWith(url, ctx, AbortSignal.timeout(ctx.timeoutMs)));
  const { signal, release } = releasableTimeoutUnder(ctx.closing, ctx.timeoutMs);
  try {
    return await request(httpOptionsWith(url, ctx, signal));
  } finally {
    release();
  }
}

export async function requestTokens(
  config: ClientConfig,
  ctx: TokenRequestContext,
  sent: SentSecrets,
  send: SendRequest,
  process: ProcessResponse = oauth.processGenericTokenEndpointResponse,
): Promise<GrantResult> {
  const as = authorizationServerFor(config);
  const client: oauth.Client = { client_id: config.clientId };
  const requestStartedAt = ctx.now();
  try {
    const response = await withAuthServerOptions(config.tokenUrl, ctx, (options) =>
      send(as, client, clientAuthFor(config), options),
    );
    return { response: await process(as, client, response), requestStartedAt };
  } catch (error) {
    throw await describeTokenEndpointFailure(error, config.tokenUrl, ctx, redactionFor(config, sent));
  }
}

/**
 * Turns whatever went wrong into a TokenkeeperError; never keeps a cause that could hold a
 * token. Every text that did not come from us passes through `redact` (see redactionFor).
 */
export async function describeTokenEndpointFailure(
  error: unknown,
  url: string,
  ctx: Pick<TokenRequestContext, 'connection' | 'loginHint' | 'now' | 'loggingIn' | 'closing'>,
  redact: Redact,
  endpoint: AuthServerEndpoint = 'token',
): Promise<TokenkeeperError> {
  if (error instanceof TokenkeeperError) return error;
  const where = `${endpoint} endpoint at ${new URL(url).origin}`;
  const connection = ctx.connection;
  // Only the abort itself: an answer that came before close() still says what the provider said.
  if (ctx.closing?.aborted && error === ctx.closing.reason) {
    return new KeeperClosedError(
      `The keeper was closed before the ${where} answered for "${connection}": the request was given up, and the store was left as it was. Create a new keeper with createKeeper() to try again.`,
      { connection },
    );
  }

  if (error instanceof oauth.ResponseBodyError) {
    const response = error.response;
    if (error.status === 429) {
      const retryAfterMs = parseRetryAfter(response.headers, ctx.now());
      return new TokenkeeperError(
        'RATE_LIMITED',
        `The ${where} is rate limiting us${
          retryAfterMs !== undefined
            ? `; try again in ${Math.ceil(retryAfterMs / 1000)} s`
            : '; try again later'
        }.`,
        { status: 429, connection, error: oauthErrorCode(error.error, redact) },
      );
    }
    return refusal(
      where,
      error.status,
      error.error,
      error.error_description,
      { ...ctx, endpoint },
      response,
      redact,
    );
  }
  if (error instanceof oauth.WWWAuthenticateChallengeError) {
    // Doorkeeper sends a challenge with every token error; the JSON body still says the most.
    const challenge = error.cause[0]?.parameters ?? {};
    const body = await oauthErrorBody(error.response);
    const code = body?.error ?? challenge.error ?? 'invalid_client';
    const description = body?.error_description ?? challenge.error_description;
    return refusal(where, error.status, code, description, { ...ctx, endpoint }, error.response, redact);
  }
  if (error instanceof BodyTooLargeError) {
    return new TokenkeeperError(
      'TOKEN_RESPONSE',
      `The ${where} sent a response larger than ${error.limitBytes / 1024} KiB, which is not ${endpoint === 'token' ? 'a token response' : 'an answer to a revocation'}. Check the base URL.`,
      { connection },
    );
  }
  if (error instanceof oauth.OperationProcessingError || error instanceof oauth.UnsupportedOperationError) {
    const status = responseStatusOf(error);
    const what =
      error.code === oauth.RESPONSE_IS_NOT_JSON || error.code === oauth.PARSE_ERROR
        ? 'something that is not JSON'
        : error.code === oauth.RESPONSE_IS_NOT_CONFORM
          ? 'an unexpected HTTP status and no OAuth error'
          : `${endpoint === 'token' ? 'a token response' : 'an answer'} that does not conform (${providerText(stripQuotes(error.message), { redact })})`;
    const retry =
      status !== undefined && status >= 500
        ? ' The provider seems to be having trouble; try again later.'
        : ' Check that the base URL points at the provider’s API.';
    return new TokenkeeperError(
      'TOKEN_RESPONSE',
      `The ${where} answered${status !== undefined ? ` HTTP ${status} with` : ''} ${what}.${retry}`,
      { connection, ...(status !== undefined ? { status } : {}) },
    );
  }
  const failure = networkFailureOf(error);
  if (failure?.kind === 'timeout') {
    return new TokenkeeperError(
      'NETWORK',
      `The ${where} did not answer in time. Check your network or try again later.`,
      { connection },
    );
  }
  if (failure?.kind === 'unreachable') {
    return new TokenkeeperError(
      'NETWORK',
      `Could not reach the ${where}${codeSuffix(failure)}. Check the base URL and your network.`,
      { connection },
    );
  }
  return new TokenkeeperError(
    'TOKEN_RESPONSE',
    `Talking to the ${where} failed unexpectedly (${providerText(
      error instanceof Error ? error.message : String(error),
      { redact },
    )}). ${endpoint === 'token' ? `If it persists, run \`${ctx.loginHint}\` again.` : 'Try again later.'}`,
    { connection },
  );
}

/**
 * The provider said no. Its `error` and `error_description` are its own text: they are
 * made printable, and cleared of what we sent, before they enter the message or the
 * error's fields.
 */
function refusal(
  where: string,
  status: number,
  providerError: string,
  providerDescription: string | undefined,
  ctx: Pick<TokenRequestContext, 'connection' | 'loginHint' | 'loggingIn'> & { endpoint: AuthServerEndpoint },
  response: Response,
  redact: Redact,
): TokenkeeperError {
  const error = oauthErrorCode(providerError, redact);
  const description = providerDescription ? providerText(providerDescription, { redact }) : '';
  return new TokenkeeperError(
    'TOKEN_ENDPOINT',
    `The ${where} refused the request (HTTP ${status}, ${error}${
      description ? `: ${description}` : ''
    }). ${adviceFor(error, ctx)}`,
    {
      status,
      connection: ctx.connection,
      error,
      ...(description ? { errorDescription: description } : {}),
      response,
    },
  );
}

/** The error codes of RFC 6749 §5.2 and RFC 7009 §2.2.1, which decide what happens next. */
const REGISTERED_ERRORS = new Set([
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'unsupported_token_type',
]);

/**
 * The OAuth `error`, made printable. A registered code is taken as it is, even when a short
 * secret happens to be part of it: the refresher tells a dead refresh token (invalid_grant)
 * from a refused client by this value, and such a code carries nothing we sent.
 */
function oauthErrorCode(providerError: string, redact: Redact): string {
  return REGISTERED_ERRORS.has(providerError) ? providerError : providerText(providerError, { redact });
}

async function oauthErrorBody(
  response: Response,
): Promise<{ error?: string; error_description?: string } | undefined> {
  try {
    const body = (await response.clone().json()) as Record<string, unknown>;
    return {
      ...(typeof body.error === 'string' ? { error: body.error } : {}),
      ...(typeof body.error_description === 'string' ? { error_description: body.error_description } : {}),
    };
  } catch {
    return undefined;
  }
}

function adviceFor(
  oauthError: string,
  ctx: Pick<TokenRequestContext, 'loginHint' | 'loggingIn'> & { endpoint: AuthServerEndpoint },
): string {
  const { loginHint } = ctx;
  if (ctx.endpoint === 'revocation') {
    // A logout: logging in again would not help it, and the connection is kept.
    switch (oauthError) {
      case 'invalid_client':
      case 'unauthorized_client':
        return 'Check the client id and client secret.';
      case 'unsupported_token_type':
        return 'The provider does not revoke this kind of token.';
      default:
        return 'Try again later.';
    }
  }
  switch (oauthError) {
    case 'invalid_client':
    case 'unauthorized_client':
      return `Check the client id and client secret, then run \`${loginHint}\` again.`;
    case 'invalid_grant':
      return ctx.loggingIn
        ? `The provider did not accept what this login gave it (the user name and password, or the code from the browser); check it, then run \`${loginHint}\` again.`
        : `The credentials or grant are no longer accepted; run \`${loginHint}\` again.`;
    case 'invalid_scope':
      return 'Ask for a scope the client is allowed.';
    case 'unsupported_grant_type':
      return 'The provider does not allow this grant for this client.';
    default:
      return `If it persists, run \`${loginHint}\` again.`;
  }
}

function responseStatusOf(error: Error): number | undefined {
  const cause = (error as { cause?: unknown }).cause;
  return cause instanceof Response ? cause.status : undefined;
}

function stripQuotes(message: string): string {
  return message.replace(/"/g, '');
}
