/**
 * `GET /oauth/authorize`, `POST /oauth/authorize` and `GET /oauth/authorize/native`, the
 * Doorkeeper way. Until the client and its redirect URI are known to be good, errors are
 * an error page (never a redirect); after that they go back to the redirect URI as
 * `?error=…&error_description=…&state=…`, except out of band, where there is nowhere to go.
 *
 * The emulated user is always signed in as far as `consent: 'auto'` goes (a code at once);
 * `consent: 'form'` asks for the e-mail and password (pre-filled) and an Authorize or Deny
 * click first. A request that prefers JSON (`Accept: application/json`, no `text/html`)
 * never gets a code: errors come back as `{"error","error_description"}` and a good
 * request as Doorkeeper's pre-authorization JSON, so a client can check its URL first.
 */
import type { AuthorizationCodeStore } from '../core/authorization-codes.js';
import { parseFormBody } from '../core/body.js';
import type { FaultInjector } from '../core/faults.js';
import { type RedirectUriMatching, redirectUriMatches } from '../core/redirect-uris.js';
import {
  type EmulatorRequest,
  type EmulatorResponse,
  headerValue,
  jsonResponse,
  type Router,
} from '../core/router.js';
import type { EmulatorStatsCounter } from '../core/stats.js';
import { randomHex, safeEqual } from '../core/token-authority.js';
import { authorizationCodePage, consentPage, errorPage, htmlResponse } from './authorize-pages.js';
import { DOORKEEPER_MESSAGES, missingParameterMessage } from './doorkeeper-error-style.js';
import { parseFactorialScopes } from './scopes.js';

export const AUTHORIZE_PATH = '/oauth/authorize';
export const NATIVE_CODE_PATH = '/oauth/authorize/native';
export const OUT_OF_BAND_REDIRECT_URI = 'urn:ietf:wg:oauth:2.0:oob';

/** `auto`: approve at once (a signed-in user who already consented); `form`: sign-in and consent page. */
export type ConsentMode = 'auto' | 'form';
/** Every {@link ConsentMode}, to check a setting or list the choices (the CLI's `--consent`). */
export const CONSENT_MODES: readonly ConsentMode[] = ['auto', 'form'];

export type ResourceOwnerType = 'user' | 'company';

export interface RegisteredApplication {
  clientId: string;
  name: string;
  /** Matched as `redirectUriMatching` says. */
  redirectUris: readonly string[];
  /** The scopes the app is registered with; an authorization request may ask for these only. */
  scopes: readonly string[];
}

export interface AuthorizeEndpointOptions {
  applications: ReadonlyMap<string, RegisteredApplication>;
  redirectUriMatching: RedirectUriMatching;
  codes: AuthorizationCodeStore;
  consent: ConsentMode;
  /** The one user who can sign in; user tokens are issued to `subject`. */
  user: { email: string; password: string; subject: string };
  /** Company tokens (`resource_owner_type=company`) are issued to this subject. */
  companySubject: string;
  stats: EmulatorStatsCounter;
  faults: FaultInjector;
  now: () => number;
}

/** A request that passed every check, waiting for the consent form (or approved at once). */
interface ValidAuthorization {
  application: RegisteredApplication;
  redirectUri: string;
  scopes: readonly string[];
  state?: string;
  resourceOwnerType: ResourceOwnerType;
}

interface PendingAuthorization extends ValidAuthorization {
  expiresAtMs: number;
}

const PENDING_TTL_MS = 10 * 60 * 1000;
const MAX_PENDING = 1000;

export function registerAuthorizeRoutes(router: Router, options: AuthorizeEndpointOptions): void {
  const pending = new Map<string, PendingAuthorization>();

  const approve = (request: EmulatorRequest, authorization: ValidAuthorization): EmulatorResponse => {
    const company = authorization.resourceOwnerType === 'company';
    const { code } = options.codes.issue({
      clientId: authorization.application.clientId,
      userId: company ? options.companySubject : options.user.subject,
      redirectUri: authorization.redirectUri,
      scopes: authorization.scopes,
      accessTokenNeverExpires: company,
    });
    options.stats.authorization();
    if (authorization.redirectUri === OUT_OF_BAND_REDIRECT_URI) {
      const native = new URL(NATIVE_CODE_PATH, request.url);
      native.searchParams.set('code', code);
      return redirect(native.toString());
    }
    return redirect(withQuery(authorization.redirectUri, { code, state: authorization.state }));
  };

  const showConsent = (authorization: ValidAuthorization, status = 200, notice?: string, token?: string) => {
    const now = options.now();
    for (const [key, entry] of pending) if (entry.expiresAtMs <= now) pending.delete(key);
    while (pending.size >= MAX_PENDING) pending.delete(pending.keys().next().value as string);
    const authenticityToken = token ?? randomHex(32);
    pending.set(authenticityToken, { ...authorization, expiresAtMs: now + PENDING_TTL_MS });
    return htmlResponse(
      status,
      consentPage({
        clientName: authorization.application.name,
        scopes: authorization.scopes,
        resourceOwnerType: authorization.resourceOwnerType,
        authenticityToken,
        email: options.user.email,
        password: options.user.password,
        notice,
      }),
    );
  };

  router.add('GET', AUTHORIZE_PATH, (request) =>
    options.faults.around('authorize', request, async () => {
      const checked = checkAuthorizationRequest(request, options.applications, options.redirectUriMatching);
      if (!checked.ok) return checked.response;
      if (prefersJson(request)) return jsonResponse(200, preAuthorizationJson(checked.authorization));
      return options.consent === 'auto'
        ? approve(request, checked.authorization)
        : showConsent(checked.authorization);
    }),
  );

  router.add('POST', AUTHORIZE_PATH, (request) =>
    options.faults.around('authorize', request, async () => {
      const form = await parseFormBody(request);
      const token = form.authenticity_token ?? '';
      const entry = pending.get(token);
      if (!entry || entry.expiresAtMs <= options.now()) {
        pending.delete(token);
        return errorResponse(
          request,
          422,
          'invalid_request',
          'The authenticity token is missing, expired or already used. Open the authorization URL again.',
        );
      }
      const { expiresAtMs: _expires, ...authorization } = entry;
      const deny = form.commit === 'deny' || form._method?.toLowerCase() === 'delete';
      if (deny) {
        pending.delete(token);
        return redirectError(request, authorization, 'access_denied', DOORKEEPER_MESSAGES.access_denied);
      }
      const emailMatches = (form.email ?? '').trim().toLowerCase() === options.user.email.toLowerCase();
      if (!emailMatches || !safeEqual(form.password ?? '', options.user.password)) {
        return showConsent(authorization, 401, 'Invalid email or password.', token);
      }
      pending.delete(token);
      return approve(request, authorization);
    }),
  );

  router.add('GET', NATIVE_CODE_PATH, (request) => {
    const code = request.url.searchParams.get('code');
    if (!code) return errorResponse(request, 400, 'invalid_request', missingParameterMessage('code'));
    return htmlResponse(200, authorizationCodePage(code));
  });
}

type CheckedRequest =
  | { ok: true; authorization: ValidAuthorization }
  | { ok: false; response: EmulatorResponse };

/** Doorkeeper's pre-authorization checks, in its order. */
function checkAuthorizationRequest(
  request: EmulatorRequest,
  applications: ReadonlyMap<string, RegisteredApplication>,
  matching: RedirectUriMatching,
): CheckedRequest {
  const query = request.url.searchParams;
  const fail = (response: EmulatorResponse): CheckedRequest => ({ ok: false, response });

  const clientId = query.get('client_id');
  if (!clientId)
    return fail(errorResponse(request, 400, 'invalid_request', missingParameterMessage('client_id')));
  const application = applications.get(clientId);
  if (!application)
    return fail(errorResponse(request, 401, 'invalid_client', DOORKEEPER_MESSAGES.invalid_client));
  const redirectUri = query.get('redirect_uri');
  if (!redirectUri) {
    return fail(errorResponse(request, 400, 'invalid_request', missingParameterMessage('redirect_uri')));
  }
  if (!application.redirectUris.some((registered) => redirectUriMatches(redirectUri, registered, matching))) {
    return fail(
      errorResponse(request, 400, 'invalid_redirect_uri', DOORKEEPER_MESSAGES.invalid_redirect_uri),
    );
  }

  // From here on the redirect URI is trusted: errors go back to it.
  const state = query.get('state') || undefined;
  const base = { application, redirectUri, state };
  const responseType = query.get('response_type');
  if (!responseType) {
    return fail(redirectError(request, base, 'invalid_request', missingParameterMessage('response_type')));
  }
  if (responseType !== 'code') {
    return fail(
      redirectError(
        request,
        base,
        'unsupported_response_type',
        DOORKEEPER_MESSAGES.unsupported_response_type,
      ),
    );
  }
  const scopes = parseFactorialScopes(query.get('scope'), application.scopes);
  if (!scopes.ok)
    return fail(redirectError(request, base, 'invalid_scope', DOORKEEPER_MESSAGES.invalid_scope));
  const ownerType = query.get('resource_owner_type') || 'user';
  if (ownerType !== 'user' && ownerType !== 'company') {
    return fail(redirectError(request, base, 'invalid_request', DOORKEEPER_MESSAGES.invalid_request));
  }
  return { ok: true, authorization: { ...base, scopes: scopes.scopes, resourceOwnerType: ownerType } };
}

/** What Doorkeeper's API-only mode answers for a request that needs the user's consent. */
function preAuthorizationJson(authorization: ValidAuthorization): Record<string, unknown> {
  return {
    client_id: authorization.application.clientId,
    redirect_uri: authorization.redirectUri,
    state: authorization.state ?? null,
    response_type: 'code',
    scope: authorization.scopes.join(' '),
    client_name: authorization.application.name,
    status: 'Pre-authorization',
  };
}

/** An error for a trusted redirect URI: a redirect, or a page out of band and for JSON requests. */
function redirectError(
  request: EmulatorRequest,
  authorization: { redirectUri: string; state?: string },
  error: string,
  description: string,
): EmulatorResponse {
  if (authorization.redirectUri === OUT_OF_BAND_REDIRECT_URI || prefersJson(request)) {
    return errorResponse(request, 400, error, description);
  }
  return redirect(
    withQuery(authorization.redirectUri, {
      error,
      error_description: description,
      state: authorization.state,
    }),
  );
}

/** The error page, or `{"error","error_description"}` for a request that prefers JSON. */
function errorResponse(
  request: EmulatorRequest,
  status: number,
  error: string,
  description: string,
): EmulatorResponse {
  if (prefersJson(request)) {
    return jsonResponse(
      status,
      { error, error_description: description },
      { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
    );
  }
  return htmlResponse(status, errorPage(error, description));
}

/** `Accept` names JSON and not HTML (a browser always names HTML). */
export function prefersJson(request: EmulatorRequest): boolean {
  const accept = (headerValue(request, 'accept') ?? '').toLowerCase();
  return /\bapplication\/(?:[\w.+-]*\+)?json\b/.test(accept) && !accept.includes('text/html');
}

function withQuery(uri: string, params: Record<string, string | undefined>): string {
  const url = new URL(uri);
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined) url.searchParams.append(name, value);
  }
  return url.toString();
}

function redirect(location: string): EmulatorResponse {
  return {
    status: 302,
    headers: { location, 'cache-control': 'no-store', 'content-type': 'text/html; charset=utf-8' },
    body: '<html><body>You are being redirected.</body></html>',
  };
}
