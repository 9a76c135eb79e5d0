/**
 * A request handed on as it came, over node:http: the daemon's proxy. It keeps what
 * fetch would undo (a compressed body stays compressed, every header keeps its case of
 * use) and skips what fetch costs per request (WHATWG streams, Headers, a Response),
 * which is most of a loopback proxy's time. The connection's rules are the same as
 * keeper.fetch's (withConnectionRules): credential, rate limits, 401, 429, retries.
 */
import type { ClientRequest, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import {
  type AnswerReader,
  type AuthFetchOptions,
  type Credential,
  type CredentialSource,
  type HeaderLookup,
  isSafeToRepeat,
  resolveRequestTarget,
  withConnectionRules,
} from './auth-fetch.js';
import { keepAliveRequest } from './keep-alive-agents.js';
import { socketFailure } from './network-errors.js';

/** A request for `keeper.forward`, as a proxy received it. */
export interface ForwardRequest {
  /** The HTTP method, as the caller sent it. */
  method: string;
  /** A path and query under the connection's base URL. */
  path: string;
  /** Sent as they are, minus any credential: the connection's own is set. */
  headers: OutgoingHttpHeaders;
  /** A body streams once: a request with one is not sent again after a 401 or 429. */
  body?: Readable;
}

/** The provider's answer, unread: its status, its headers as node:http gives them, its body. */
export type ForwardedResponse = IncomingMessage;

/** Without apiTimeoutMs, what Node's fetch allows: 5 minutes of silence, to the headers or between chunks. */
const FETCH_IDLE_TIMEOUT_MS = 300_000;

const NODE_ANSWERS: AnswerReader<IncomingMessage> = {
  status: (response) => response.statusCode ?? 0,
  headers: (response) => nodeHeaderLookup(response),
  discard: (response) =>
    new Promise((resolve) => {
      if (response.complete || response.destroyed) return resolve();
      response.once('close', resolve);
      response.resume();
    }),
};

function nodeHeaderLookup(response: IncomingMessage): HeaderLookup {
  return {
    get: (name) => {
      const value = response.headers[name.toLowerCase()];
      if (value === undefined) return null;
      return Array.isArray(value) ? value.join(', ') : value;
    },
  };
}

export function forward(
  options: AuthFetchOptions,
  credentials: CredentialSource,
  request: ForwardRequest,
): Promise<ForwardedResponse> {
  const target = resolveRequestTarget(options.baseUrl, request.path);
  const method = request.method.toUpperCase();
  const replayable = request.body === undefined;
  const idempotencyKey = request.headers['idempotency-key'] !== undefined;
  return withConnectionRules(
    options,
    credentials,
    {
      method,
      target,
      replayable,
      retryable: replayable && (idempotencyKey || isSafeToRepeat(method, undefined)),
      // A body read to its end may be destroyed too: only one cut short means the caller went away.
      callerAborted: () => request.body?.destroyed === true && !request.body.readableEnded,
    },
    NODE_ANSWERS,
    (credential) => sendOnce(options, target.href, method, request, credential),
  );
}

function sendOnce(
  options: AuthFetchOptions,
  href: string,
  method: string,
  request: ForwardRequest,
  credential: Credential,
): Promise<IncomingMessage> {
  // Credentials are ours to set, never whatever the caller passed, in any letter case.
  // Copied without them rather than deleted after: delete makes every later header lookup slower.
  const credentialHeaders = options.credentialHeaders ?? [];
  const headers: OutgoingHttpHeaders = {};
  for (const name in request.headers) {
    const lower = name.toLowerCase();
    if (lower === 'authorization' || credentialHeaders.includes(lower)) continue;
    headers[name] = request.headers[name];
  }
  headers[credential.header.toLowerCase()] = credential.value;
  return new Promise((resolve, reject) => {
    const outgoing = keepAliveRequest(href, { method, headers }, resolve);
    outgoing.once('error', (error) => reject(error.name === 'TimeoutError' ? error : socketFailure(error)));
    outgoing.setTimeout(options.timeoutMs ?? FETCH_IDLE_TIMEOUT_MS, () => {
      const timeout = new Error('The provider went quiet');
      timeout.name = 'TimeoutError';
      outgoing.destroy(timeout);
    });
    if (request.body) sendBody(request.body, outgoing);
    else outgoing.end();
  });
}

/**
 * Streams the caller's body to the provider. A caller that goes away mid-body ends the
 * provider's request with it. A provider that goes away leaves the caller's request open
 * (stream.pipeline would destroy it) and drops the rest of its body, so the caller is still
 * answered (a 502). pipe also skips pipeline's bookkeeping per stream (see serve/proxy.ts).
 */
function sendBody(body: Readable, outgoing: ClientRequest): void {
  // A body that fails closes after it: the request is ended there, with the body's own error.
  let failure: Error | undefined;
  body.on('error', (error) => {
    failure = error;
  });
  body.once('close', () => {
    if (body.readableEnded) return;
    outgoing.destroy(failure ?? new Error('The caller went away before the end of its body.'));
  });
  outgoing.once('close', () => {
    if (body.readableEnded || body.destroyed) return;
    body.unpipe(outgoing);
    body.resume();
  });
  body.pipe(outgoing);
}
