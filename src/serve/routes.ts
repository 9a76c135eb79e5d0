/**
 * The daemon's HTTP surface. `/healthz` is open; `/`, `/dashboard.*` take the access
 * secret or a dashboard session cookie; everything else takes
 * `Authorization: Bearer <access secret>`. Only this module maps error codes to HTTP
 * statuses. No response carries a secret but the token `/token` is asked for.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type ErrorCode, isTokenkeeperError } from '../errors.js';
import type { Keeper } from '../keeper.js';
import type { DashboardSessions, SecretDigest } from './access.js';
import { needsLogin, type ViewedConnection } from './connection-view.js';
import {
  DASHBOARD_CSP,
  DASHBOARD_SCRIPT,
  DASHBOARD_STYLE,
  renderDashboard,
  renderLoginForm,
} from './dashboard.js';
import type { ServeMetrics } from './metrics.js';
import { proxyRequest } from './proxy.js';
import type { StoreArgument } from './store-argument.js';

export interface RouteContext {
  keeper: Keeper;
  secret: SecretDigest;
  sessions: DashboardSessions;
  metrics: ServeMetrics;
  connections(): ViewedConnection[];
  /** A caller asked for this connection: worth keeping its token in memory. */
  markUsed(name: string): void;
  /** Whether the store holds a connection of this name, as the daemon last saw it. */
  knows(name: string): boolean;
  /** Resolves when the store answers; rejects otherwise. */
  storeAnswers(): Promise<void>;
  /** True once shutdown began: new requests get 503. */
  draining(): boolean;
  now(): number;
  /** Writes one line to the daemon's log; never given a secret. */
  log(line: string): void;
  /** Adds the stack to a logged unexpected error (TOKENKEEPER_DEBUG). */
  debug: boolean;
  /** Points the commands in messages at the daemon's store. */
  store: StoreArgument;
}

/** The `connection` label of proxied requests for a name the daemon does not know; no name looks like it. */
export const UNKNOWN_CONNECTION = '(unknown)';

/** GET /v1/connections/{name}/token */
const TOKEN_PATH = /^\/v1\/connections\/([^/]+)\/token$/;

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };

export async function handleRequest(
  ctx: RouteContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://daemon');
  const path = url.pathname;
  const method = req.method ?? 'GET';
  if (ctx.draining()) {
    return sendJson(
      res,
      503,
      { error: { code: 'SHUTTING_DOWN', message: 'The daemon is shutting down.' } },
      {
        connection: 'close',
      },
    );
  }
  if (path === '/healthz') {
    if (method === 'GET' || method === 'HEAD') return healthz(ctx, res);
    return methodNotAllowed(res, path, method, ['GET', 'HEAD']);
  }
  if (path === '/login') return login(ctx, req, res, url);

  const bearer = ctx.secret.inBearer(req.headers.authorization);
  // HEAD is GET without the body, which node:http leaves out by itself.
  const reads = method === 'GET' || method === 'HEAD';
  if (isDashboardPath(path) && reads) {
    if (!bearer && !ctx.sessions.isValid(req.headers.cookie)) {
      if (path === '/') return redirect(res, '/login');
      return sendJson(res, 401, unauthorized());
    }
    return dashboard(ctx, res, path);
  }
  if (!bearer) {
    return sendJson(res, 401, unauthorized(), { 'www-authenticate': 'Bearer realm="tokenkeeper"' });
  }

  if (path === '/metrics' && reads) {
    const text = await ctx.metrics.text();
    res.writeHead(200, { 'content-type': ctx.metrics.contentType, 'cache-control': 'no-store' });
    res.end(text);
    return;
  }
  if (path === '/v1/connections' && reads) {
    return sendJson(res, 200, { connections: ctx.connections().map(listed) });
  }
  const token = TOKEN_PATH.exec(path);
  if (token && method === 'GET') {
    const name = decodeSegment(token[1] as string);
    ctx.markUsed(name);
    return tokenOf(ctx, req, res, name);
  }
  const proxied = /^\/proxy\/([^/]+)(\/.*)?$/.exec(path);
  if (proxied) {
    const name = decodeSegment(proxied[1] as string);
    ctx.markUsed(name);
    return proxy(ctx, req, res, name, `${proxied[2] ?? '/'}${url.search}`);
  }
  const allowed = allowedMethods(path);
  if (allowed) return methodNotAllowed(res, path, method, allowed);
  return sendJson(res, 404, {
    error: {
      code: 'NOT_FOUND',
      message: `No endpoint ${method} ${path}; see the README's "Running the daemon".`,
    },
  });
}

function methodNotAllowed(res: ServerResponse, path: string, method: string, allowed: string[]): void {
  sendJson(
    res,
    405,
    { error: { code: 'USAGE', message: `${path} answers ${allowed.join(' and ')}, not ${method}.` } },
    { allow: allowed.join(', ') },
  );
}

function isDashboardPath(path: string): boolean {
  return path === '/' || path === '/dashboard.js' || path === '/dashboard.css' || path === '/favicon.ico';
}

/** The methods an authenticated path answers, for a 405 that names them: undefined for an unknown path. */
function allowedMethods(path: string): string[] | undefined {
  if (path === '/metrics' || path === '/v1/connections' || isDashboardPath(path)) return ['GET', 'HEAD'];
  if (TOKEN_PATH.test(path)) return ['GET'];
  return undefined;
}

async function healthz(ctx: RouteContext, res: ServerResponse): Promise<void> {
  try {
    await ctx.storeAnswers();
    sendJson(res, 200, { status: 'ok' });
  } catch {
    sendJson(res, 503, { status: 'unavailable', message: 'The store does not answer.' });
  }
}

function isoOrNull(ms: number | null | undefined): string | null {
  return typeof ms === 'number' ? new Date(ms).toISOString() : null;
}

function listed(c: ViewedConnection) {
  return {
    name: c.name,
    provider: c.provider,
    state: needsLogin(c) ? 'reauth_required' : c.state,
    expiresAt: isoOrNull(c.expiresAt), // null: never expires, or no token yet
    lastRefreshAt: isoOrNull(c.lastRefreshAt),
    lastErrorCode: c.lastErrorCode ?? null,
  };
}

async function tokenOf(
  ctx: RouteContext,
  req: IncomingMessage,
  res: ServerResponse,
  name: string,
): Promise<void> {
  try {
    const credential = await ctx.keeper.credential(name);
    sendJson(res, 200, {
      access_token: credential.accessToken,
      token_type: credential.tokenType,
      expires_at: isoOrNull(credential.expiresAt),
    });
  } catch (error) {
    sendError(ctx, req, res, error);
  }
}

async function proxy(
  ctx: RouteContext,
  req: IncomingMessage,
  res: ServerResponse,
  name: string,
  pathAndQuery: string,
): Promise<void> {
  let status: number;
  try {
    status = await proxyRequest(ctx.keeper, name, pathAndQuery, req, res);
  } catch (error) {
    status = res.headersSent ? res.statusCode : statusFor(error);
    // A caller that went away mid-body has nobody left to answer.
    if (res.headersSent || (req.destroyed && !req.readableEnded)) res.destroy();
    else sendError(ctx, req, res, error);
  }
  // A name the daemon does not know gets no series of its own: callers choose names freely.
  ctx.metrics.proxyRequest(ctx.knows(name) ? name : UNKNOWN_CONNECTION, status);
}

function dashboard(ctx: RouteContext, res: ServerResponse, path: string): void {
  if (path === '/dashboard.js') sendAsset(res, 'text/javascript; charset=utf-8', DASHBOARD_SCRIPT);
  else if (path === '/dashboard.css') sendAsset(res, 'text/css; charset=utf-8', DASHBOARD_STYLE);
  else if (path === '/favicon.ico') res.writeHead(204).end();
  else sendHtml(res, 200, renderDashboard(ctx.connections(), ctx.now(), ctx.store));
}

/** GET /login?code=…: the one-time link; GET /login: the form; POST /login: the form's answer. */
async function login(ctx: RouteContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  if (req.method === 'GET') {
    const code = url.searchParams.get('code');
    if (code === null) return sendHtml(res, 200, renderLoginForm());
    const session = ctx.sessions.redeem(code);
    if (!session) return sendHtml(res, 401, renderLoginForm('That link was used already or has expired.'));
    return redirect(res, '/', ctx.sessions.cookie(session));
  }
  if (req.method === 'POST') {
    const form = new URLSearchParams(await readSmallBody(req, 4096));
    const given = form.get('secret') ?? '';
    if (!ctx.secret.matches(given))
      return sendHtml(res, 401, renderLoginForm('That is not the access secret.'));
    return redirect(res, '/', ctx.sessions.cookie(ctx.sessions.open()));
  }
  methodNotAllowed(res, '/login', req.method ?? '', ['GET', 'POST']);
}

async function readSmallBody(req: IncomingMessage, limit: number): Promise<string> {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > limit) break;
  }
  return body.slice(0, limit);
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function unauthorized() {
  return {
    error: {
      code: 'UNAUTHORIZED',
      message:
        'Send Authorization: Bearer <access secret> (TOKENKEEPER_SERVE_SECRET, or the secret file the daemon printed at start).',
    },
  };
}

const STATUS_OF: Partial<Record<ErrorCode, number>> = {
  NOT_FOUND: 404,
  REAUTH_REQUIRED: 409,
  CONFIG: 400,
  USAGE: 400,
  RATE_LIMITED: 429,
  LOCK_TIMEOUT: 503,
  STORE: 503,
  STORE_KEY: 500,
  STORE_TAMPERED: 500,
  NETWORK: 502,
  TOKEN_ENDPOINT: 502,
  TOKEN_RESPONSE: 502,
  HTTP: 502,
};

function statusFor(error: unknown): number {
  return isTokenkeeperError(error) ? (STATUS_OF[error.code] ?? 502) : 500;
}

function sendError(ctx: RouteContext, req: IncomingMessage, res: ServerResponse, error: unknown): void {
  const body = isTokenkeeperError(error)
    ? { error: { code: error.code, message: ctx.store.inMessage(error.message) } }
    : { error: { code: 'INTERNAL', message: 'The daemon failed to answer; its log may say more.' } };
  const status = statusFor(error);
  if (status === 500) logFailure(ctx, req, error);
  sendJson(res, status, body);
}

/**
 * A 500 says to read the daemon's log, so it is logged: the method and path without the
 * query (which may carry a caller's secret), and the error's code and message, which carry
 * none. The stack only on request.
 */
export function logFailure(
  ctx: Pick<RouteContext, 'log' | 'debug'>,
  req: IncomingMessage,
  error: unknown,
): void {
  const path = (req.url ?? '/').split('?', 1)[0];
  const what = isTokenkeeperError(error)
    ? `${error.code}: ${error.message}`
    : `unexpected error: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`;
  ctx.log(`tokenkeeper serve: ${req.method ?? 'GET'} ${path} failed with 500 (${what})`);
  if (ctx.debug && error instanceof Error && error.stack) ctx.log(error.stack);
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  extra: Record<string, string> = {},
): void {
  res.writeHead(status, { ...JSON_HEADERS, ...extra });
  res.end(JSON.stringify(body));
}

function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': DASHBOARD_CSP,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  });
  res.end(html);
}

function sendAsset(res: ServerResponse, type: string, body: string): void {
  res.writeHead(200, {
    'content-type': type,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(body);
}

function redirect(res: ServerResponse, location: string, cookie?: string): void {
  res.writeHead(303, { location, 'cache-control': 'no-store', ...(cookie ? { 'set-cookie': cookie } : {}) });
  res.end();
}
