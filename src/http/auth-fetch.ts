/**
 * A fetch that carries a connection's credentials: it resolves paths against
 * the connection's base URL, waits for a rate-limit slot, injects the header,
 * answers a 401 with at most one forced refresh (see withConnectionRules), waits
 * out a 429 when the server says for how long, and never lets credentials follow
 * a redirect to another origin.
 */
import type { Clock } from '../clock.js';
import { ConfigError, TokenkeeperError } from '../errors.js';
import { type BackoffPolicy, backoffDelay } from './backoff.js';
import { codeSuffix, networkFailureOf } from './network-errors.js';
import { parseRetryAfter } from './retry-after.js';
import { timeoutUnder } from './timeout-signal.js';
import { joinUrl } from './urls.js';

/** A credential as sent: the header it goes in and its full value. */
export interface Credential {
  header: string;
  value: string;
}

export interface CredentialSource {
  /** The credential to send now: after a renewal (ours or another caller's), the renewed one. */
  current(): Credential | Promise<Credential>;
  /**
   * Called after a 401 with the credential that was rejected; returns the one to retry with
   * (the rejected one when there is nothing better). `adoptOnly`: take a credential another
   * holder saved, never ask the provider.
   */
  renew(rejected: Credential, options?: { adoptOnly?: boolean }): Promise<Credential>;
}

export interface SlotGate {
  /**
   * Resolves when a request with this method and path may go out, with the ms it waited for
   * its slot; undefined when no limit applies to it.
   */
  acquire(method: string, path: string): Promise<number> | undefined;
  /** The server answered 429: hold requests back for `retryAfterMs`. */
  backOff(method: string, path: string, retryAfterMs: number): void;
}

/** What stays the same across a connection's requests (so it can be built once). */
export interface AuthFetchOptions {
  fetch: typeof fetch;
  baseUrl: string;
  gate?: SlotGate;
  /** A request was held back this long for a free slot (the `rate_limit_wait` event). */
  onSlotWait?: (waitedMs: number) => void;
  /** The request is sent again after this wait, for an answer with this status (the `retry_wait` event). */
  onRetryWait?: (status: number, waitMs: number) => void;
  /** Paces waits the server asked for (Retry-After): real time, not the token clock. */
  clock: Pick<Clock, 'now' | 'sleep'>;
  /** Longest Retry-After we are willing to wait out; longer → the 429 is returned. */
  maxRetryAfterMs: number;
  /** How many 429s in a row we wait out before returning one. */
  maxRateLimitRetries: number;
  /** How long to wait after a 429 that did not say. */
  rateLimitBackoff: BackoffPolicy;
  /** Every header the provider takes a credential in (its API-key header), lower-case: never sent to another origin. */
  credentialHeaders?: readonly string[];
  /** Each attempt's limit, until its whole answer is read (ms); undefined: Node's fetch's own. */
  timeoutMs?: number;
  /** Retries of an idempotent request after a network error, 502, 503 or 504. */
  maxRetries: number;
  retryBackoff: BackoffPolicy;
  maxRedirects: number;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** The first may refresh; the second only takes what another process saved (withConnectionRules). */
const MAX_RENEWALS_AFTER_401 = 2;
/** The gateway said the server is unreachable or overloaded: the request may not have run. */
const RETRYABLE_STATUSES = new Set([502, 503, 504]);
const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);

/**
 * Idempotent methods may be sent again after a failure. Others only when the caller
 * opts in with an `Idempotency-Key` header, which tells the server to run them once.
 */
export function isSafeToRepeat(method: string, headers: RequestInit['headers']): boolean {
  if (IDEMPOTENT_METHODS.has(method)) return true;
  return headers !== undefined && new Headers(headers).has('idempotency-key');
}

/**
 * With `timeoutMs`, every attempt gets a timeout, combined with the caller's own signal
 * (timeoutUnder: that signal may live as long as the application). Without it, Node's fetch
 * applies its own (5 minutes to the headers, and between body chunks): a signal per request
 * costs about a tenth of loopback throughput.
 */
function withTimeout(init: RequestInit, options: AuthFetchOptions): RequestInit {
  if (options.timeoutMs === undefined) return init;
  const signal = init.signal
    ? timeoutUnder(init.signal, options.timeoutMs)
    : AbortSignal.timeout(options.timeoutMs);
  return { ...init, signal };
}

function spanOf(ms: number): string {
  return ms < 1_000 ? `${ms} ms` : `${Math.round(ms / 1_000)} s`;
}

/** A TokenkeeperError for a request that got no answer; undefined for anything else. */
function describeNetworkFailure(
  error: unknown,
  href: string,
  timeoutMs: number | undefined,
): TokenkeeperError | undefined {
  const failure = networkFailureOf(error);
  if (failure === undefined) return undefined;
  const origin = new URL(href).origin;
  if (failure.kind === 'timeout') {
    return new TokenkeeperError(
      'NETWORK',
      `${origin} did not answer${timeoutMs === undefined ? ' in time' : ` within ${spanOf(timeoutMs)}`}. Check your network, or try again later.`,
    );
  }
  return new TokenkeeperError(
    'NETWORK',
    `Could not reach ${origin}${codeSuffix(failure)}. Check the base URL and your network.`,
  );
}

/** What the rules read of an answer, whatever carried it: a fetch Response, a node:http one. */
export interface AnswerReader<A> {
  status(answer: A): number;
  headers(answer: A): HeaderLookup;
  /** Throws the body away, so the connection can carry the next attempt. */
  discard(answer: A): Promise<void>;
}

/** The one thing the rules ask of headers (a fetch Headers has it). */
export interface HeaderLookup {
  get(name: string): string | null;
}

/** One request as the rules see it: where it goes and whether it may be sent again. */
export interface RuledRequest {
  method: string;
  target: { href: string; path: string };
  /** False for a body that streams: it can only be sent once. */
  replayable: boolean;
  /** True when it may be sent again after a failure (see isSafeToRepeat). */
  retryable: boolean;
  /** The caller gave up: its error is handed back as it is, never retried. */
  callerAborted(): boolean;
}

const FETCH_ANSWERS: AnswerReader<Response> = {
  status: (response) => response.status,
  headers: (response) => response.headers,
  discard: async (response) => {
    await response.body?.cancel();
  },
};

export async function authFetch(
  options: AuthFetchOptions,
  credentials: CredentialSource,
  pathOrUrl: string | URL,
  init: RequestInit = {},
): Promise<Response> {
  const target = resolveRequestTarget(options.baseUrl, pathOrUrl);
  const method = (init.method ?? 'GET').toUpperCase();
  const replayable = isReplayable(init.body);
  const request: RuledRequest = {
    method,
    target,
    replayable,
    retryable: replayable && isSafeToRepeat(method, init.headers),
    callerAborted: () => init.signal?.aborted === true,
  };
  return withConnectionRules(options, credentials, request, FETCH_ANSWERS, (credential) =>
    sendFollowingRedirects(options, target.href, withTimeout(init, options), method, credential),
  );
}

/**
 * The connection's rules around any transport: a rate-limit slot before each attempt, the
 * credential in each, a renewal and retry after a 401, a 429 or 502-504 waited out when
 * the wait is short enough, and network failures retried when the request may repeat.
 *
 * The credential is read once the slot is free, not before: a wait for one can outlast the
 * token, and a provider that rotates strictly (Factus) revokes an access token as soon as it
 * is refreshed. For the same reason a second 401 gets a second renewal, from the store only:
 * the token the first renewal gave may have been replaced by another process while the retry
 * waited. Only the first may ask the provider, so an API that refuses every token costs one
 * refresh, as it always has.
 */
export async function withConnectionRules<A>(
  options: AuthFetchOptions,
  credentials: CredentialSource,
  request: RuledRequest,
  answers: AnswerReader<A>,
  send: (credential: Credential) => Promise<A>,
): Promise<A> {
  const { method, target, replayable, retryable } = request;
  let renewalsAfter401 = 0;
  let rateLimitRetries = 0;
  let retries = 0;

  for (;;) {
    const slot = options.gate?.acquire(method, target.path);
    if (slot) {
      const waited = await slot;
      if (waited > 0) options.onSlotWait?.(waited);
    }
    const current = credentials.current();
    const credential = current instanceof Promise ? await current : current;
    let answer: A;
    try {
      answer = await send(credential);
    } catch (error) {
      const failure = request.callerAborted()
        ? undefined
        : describeNetworkFailure(error, target.href, options.timeoutMs);
      if (failure === undefined) throw error;
      if (retryable && retries < options.maxRetries) {
        await options.clock.sleep(backoffDelay(options.retryBackoff, retries++, Math.random));
        continue;
      }
      throw failure;
    }
    const status = answers.status(answer);

    if (RETRYABLE_STATUSES.has(status) && retryable && retries < options.maxRetries) {
      const told = parseRetryAfter(answers.headers(answer), options.clock.now());
      const delay = told ?? backoffDelay(options.retryBackoff, retries, Math.random);
      if (delay <= options.maxRetryAfterMs) {
        retries++;
        await answers.discard(answer);
        options.onRetryWait?.(status, delay);
        await options.clock.sleep(delay);
        continue;
      }
    }

    if (status === 401 && renewalsAfter401 < MAX_RENEWALS_AFTER_401 && replayable) {
      const adoptOnly = renewalsAfter401 > 0;
      renewalsAfter401++;
      const renewed = await renewOrDiscard(credentials, credential, adoptOnly, () => answers.discard(answer));
      if (renewed.value !== credential.value) {
        await answers.discard(answer);
        continue;
      }
    }
    if (status === 429 && rateLimitRetries < options.maxRateLimitRetries && replayable) {
      const told = parseRetryAfter(answers.headers(answer), options.clock.now());
      const delay = told ?? backoffDelay(options.rateLimitBackoff, rateLimitRetries, Math.random);
      if (delay <= options.maxRetryAfterMs) {
        rateLimitRetries++;
        options.gate?.backOff(method, target.path, delay);
        await answers.discard(answer);
        options.onRetryWait?.(status, delay);
        // No jitter when the server said when to come back.
        await options.clock.sleep(delay);
        continue;
      }
    }
    return answer;
  }
}

/** A renewal that fails leaves no answer unread: an unread one holds its keep-alive connection. */
async function renewOrDiscard(
  credentials: CredentialSource,
  rejected: Credential,
  adoptOnly: boolean,
  discard: () => Promise<void>,
): Promise<Credential> {
  try {
    return await credentials.renew(rejected, adoptOnly ? { adoptOnly } : undefined);
  } catch (error) {
    await discard();
    throw error;
  }
}

/**
 * Paths resolve against the base URL; an absolute URL must stay on the connection's
 * origin. Kept as strings on the common path: fetch parses the URL anyway.
 */
export function resolveRequestTarget(
  baseUrl: string,
  pathOrUrl: string | URL,
): { href: string; path: string } {
  const text = String(pathOrUrl);
  if (/^[a-z][a-z0-9+.-]*:/i.test(text)) {
    const base = new URL(baseUrl);
    const url = new URL(text);
    if (url.origin !== base.origin) {
      throw new ConfigError(
        `Refusing to send this connection's credentials to ${url.origin}; it belongs to ${base.origin}. Pass a path such as /v1/bills instead.`,
      );
    }
    return { href: url.href, path: url.pathname };
  }
  const href = joinUrl(baseUrl, text);
  const afterOrigin = href.indexOf('/', href.indexOf('//') + 2);
  const path = afterOrigin < 0 ? '/' : href.slice(afterOrigin).split(/[?#]/, 1)[0]!;
  return { href, path };
}

async function sendFollowingRedirects(
  options: AuthFetchOptions,
  firstHref: string,
  init: RequestInit,
  method: string,
  credential: Credential,
): Promise<Response> {
  if (init.redirect === 'manual' || init.redirect === 'error') {
    return send(options, firstHref, init, method, credential, init.redirect, true);
  }
  let response = await send(options, firstHref, init, method, credential, 'manual', true);
  if (!REDIRECT_STATUSES.has(response.status)) return response;

  // Redirects are rare: only now is the URL parsed and compared.
  const credentialOrigin = new URL(options.baseUrl).origin;
  let url = new URL(firstHref);
  let request: RequestInit = init;
  let requestMethod = method;
  for (let hop = 0; ; hop++) {
    const location = response.headers.get('location');
    if (!REDIRECT_STATUSES.has(response.status) || !location) return response;
    if (hop >= options.maxRedirects) {
      await response.body?.cancel();
      throw new TokenkeeperError(
        'HTTP',
        `Stopped after ${options.maxRedirects} redirects from ${firstHref}.`,
      );
    }
    await response.body?.cancel();
    const next = new URL(location, url);
    if (next.protocol !== 'https:' && next.protocol !== 'http:') {
      throw new TokenkeeperError('HTTP', `Refusing to follow a redirect to ${next.protocol} URL.`);
    }
    const becomesGet =
      response.status === 303 ||
      ((response.status === 301 || response.status === 302) && requestMethod === 'POST');
    if (becomesGet) {
      const { body: _dropped, ...rest } = request;
      const headers = new Headers(rest.headers);
      headers.delete('content-type');
      headers.delete('content-length');
      request = { ...rest, headers };
      requestMethod = requestMethod === 'HEAD' ? 'HEAD' : 'GET';
    }
    url = next;
    response = await send(
      options,
      url.href,
      request,
      requestMethod,
      credential,
      'manual',
      url.origin === credentialOrigin,
    );
  }
}

function send(
  options: AuthFetchOptions,
  url: string,
  init: RequestInit,
  method: string,
  credential: Credential,
  redirect: NonNullable<RequestInit['redirect']>,
  withCredential: boolean,
): Promise<Response> {
  let headers: NonNullable<RequestInit['headers']>;
  if (init.headers === undefined) {
    headers = withCredential ? { [credential.header]: credential.value } : {};
  } else {
    // Credentials are ours to set: only on the connection's origin, never whatever the caller passed.
    const merged = new Headers(init.headers);
    merged.delete('authorization');
    merged.delete(credential.header);
    if (withCredential) merged.set(credential.header, credential.value);
    else {
      for (const name of CALLER_CREDENTIAL_HEADERS) merged.delete(name);
      // The provider's other credential header (an API key beside a Bearer token) stays home too.
      for (const name of options.credentialHeaders ?? []) merged.delete(name);
    }
    headers = merged;
  }
  return options.fetch(url, { ...init, method, headers, redirect });
}

/** What the caller may have sent for the connection's origin that must not follow a redirect off it. */
const CALLER_CREDENTIAL_HEADERS = ['cookie', 'proxy-authorization'];

function isReplayable(body: RequestInit['body']): boolean {
  return !(body instanceof ReadableStream) && !isAsyncIterable(body);
}

function isAsyncIterable(value: unknown): boolean {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}
