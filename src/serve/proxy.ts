/**
 * `/proxy/{name}/{path…}`: forwards any method to the connection's base URL plus the
 * path, through `keeper.forward` (node:http), so the connection's credential, rate limits
 * and the library's 401 (one renewal) and 429 (Retry-After) rules apply.
 *
 * Bodies stream both ways and pass untouched: a compressed answer stays compressed, with
 * its length. A request body can only be sent once, so the 401 renewal and the 429 wait
 * are for requests without a body (GET, HEAD, DELETE…); a request that streams a body gets
 * the provider's answer as it is. Hop-by-hop headers, the caller's Authorization (the
 * daemon's access secret) and its cookies never go upstream.
 */
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Keeper } from '../keeper.js';

/** RFC 9110 §7.6.1 connection-specific headers, plus what this hop sets itself. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
]);

/** The caller's credentials for the daemon; an Expect the daemon has answered already. */
const NOT_FORWARDED = new Set(['authorization', 'cookie', 'expect']);

export function upstreamHeaders(incoming: IncomingHttpHeaders): OutgoingHttpHeaders {
  const named = connectionTokens(incoming.connection);
  const headers: OutgoingHttpHeaders = {};
  for (const name in incoming) {
    const value = incoming[name];
    if (value === undefined || HOP_BY_HOP.has(name) || NOT_FORWARDED.has(name) || named.has(name)) continue;
    headers[name] = value;
  }
  return headers;
}

/** The response headers to pass back: the provider's, minus hop-by-hop ones. */
export function downstreamHeaders(upstream: IncomingHttpHeaders): OutgoingHttpHeaders {
  const named = connectionTokens(upstream.connection);
  const out: OutgoingHttpHeaders = {};
  for (const name in upstream) {
    const value = upstream[name];
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name)) continue;
    out[name] = value;
  }
  return out;
}

function connectionTokens(value: string | string[] | undefined): ReadonlySet<string> {
  if (value === undefined) return NO_TOKENS;
  // Nearly every request and answer says one of these: no list to split, no Set to build.
  const common = typeof value === 'string' ? COMMON_TOKENS.get(value) : undefined;
  if (common) return common;
  const text = Array.isArray(value) ? value.join(',') : value;
  return new Set(
    text
      .split(',')
      .map((token) => token.trim().toLowerCase())
      .filter(Boolean),
  );
}
const NO_TOKENS: ReadonlySet<string> = new Set();
const COMMON_TOKENS = new Map<string, ReadonlySet<string>>([
  ['keep-alive', new Set(['keep-alive'])],
  ['close', new Set(['close'])],
]);

/** Forwards one request; resolves with the status sent back, once the response has ended. */
export async function proxyRequest(
  keeper: Keeper,
  name: string,
  pathAndQuery: string,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<number> {
  const method = (request.method ?? 'GET').toUpperCase();
  const hasBody =
    method !== 'GET' &&
    method !== 'HEAD' &&
    (request.headers['transfer-encoding'] !== undefined ||
      Number(request.headers['content-length'] ?? 0) > 0);
  const upstream = await keeper.forward(name, {
    method,
    path: pathAndQuery,
    headers: upstreamHeaders(request.headers),
    ...(hasBody ? { body: request } : {}),
  });
  const status = upstream.statusCode ?? 502;
  response.writeHead(status, downstreamHeaders(upstream.headers));
  await relay(upstream, response);
  return status;
}

/**
 * Streams the provider's answer to the caller; either side failing or going away ends the
 * other. What stream.pipeline does, without its bookkeeping per stream, which cost the
 * proxy a third of its requests per second on loopback (bench serve-proxy).
 */
function relay(upstream: IncomingMessage, response: ServerResponse): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (error: Error) => {
      upstream.destroy();
      response.destroy();
      reject(error);
    };
    // Node ends a provider's answer cut short with an error (ECONNRESET), never a bare close.
    upstream.once('error', fail);
    response.once('close', () => {
      if (response.writableFinished) resolve();
      else fail(new Error('The caller went away before the end of the answer.'));
    });
    upstream.pipe(response);
  });
}
