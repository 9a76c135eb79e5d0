/**
 * `/proxy/{name}/{path…}`: forwards any method to the connection's base URL plus the
 * path, through `keeper.fetch`, so the connection's credential, rate limits and the
 * library's 401 (one renewal) and 429 (Retry-After) rules apply.
 *
 * Bodies stream both ways: nothing is buffered whole. A request body can only be sent
 * once, so the 401 renewal and the 429 wait are for requests without a body (GET, HEAD,
 * DELETE…); a request that streams a body gets the provider's answer as it is.
 * Hop-by-hop headers, the caller's Authorization (the daemon's access secret) and its
 * cookies never go upstream.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
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

/** The caller's credentials for the daemon, and what fetch computes for the upstream request. */
const NOT_FORWARDED = new Set(['authorization', 'cookie', 'content-length', 'accept-encoding', 'expect']);

export function upstreamHeaders(incoming: IncomingHttpHeaders): Headers {
  const named = connectionTokens(incoming.connection);
  const headers = new Headers();
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || HOP_BY_HOP.has(name) || NOT_FORWARDED.has(name) || named.has(name)) continue;
    if (Array.isArray(value)) for (const item of value) headers.append(name, item);
    else headers.set(name, value);
  }
  return headers;
}

/** The response headers to pass back: the provider's, minus hop-by-hop ones and what fetch already undid. */
export function downstreamHeaders(upstream: Headers): Record<string, string | string[]> {
  const named = connectionTokens(upstream.get('connection') ?? undefined);
  // fetch has already decoded a compressed body: its encoding and length no longer apply.
  const decoded = upstream.has('content-encoding');
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of upstream) {
    if (HOP_BY_HOP.has(name) || named.has(name)) continue;
    if (decoded && (name === 'content-encoding' || name === 'content-length')) continue;
    if (name === 'set-cookie') continue; // handled below: fetch joins them
    out[name] = value;
  }
  const cookies = upstream.getSetCookie();
  if (cookies.length > 0) out['set-cookie'] = cookies;
  return out;
}

function connectionTokens(value: string | string[] | undefined): Set<string> {
  const text = Array.isArray(value) ? value.join(',') : (value ?? '');
  return new Set(
    text
      .split(',')
      .map((token) => token.trim().toLowerCase())
      .filter(Boolean),
  );
}

/** Forwards one request; resolves with the status sent back, once the response has ended. */
export async function proxyRequest(
  keeper: Keeper,
  name: string,
  pathAndQuery: string,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<number> {
  const method = (request.method ?? 'GET').toUpperCase();
  // No AbortSignal per request (it costs about a tenth of loopback throughput): a caller that
  // goes away ends the pipeline below, which cancels the provider's body.
  const hasBody =
    method !== 'GET' &&
    method !== 'HEAD' &&
    (request.headers['transfer-encoding'] !== undefined ||
      Number(request.headers['content-length'] ?? 0) > 0);
  const init: RequestInit & { duplex?: 'half' } = {
    method,
    headers: upstreamHeaders(request.headers),
    redirect: 'manual',
  };
  if (hasBody) {
    init.body = Readable.toWeb(request) as ReadableStream<Uint8Array>;
    init.duplex = 'half';
  }
  const upstream = await keeper.fetch(name, pathAndQuery, init);
  response.writeHead(upstream.status, downstreamHeaders(upstream.headers));
  if (upstream.body === null || method === 'HEAD') {
    await upstream.body?.cancel();
    response.end();
    return upstream.status;
  }
  await pipeline(Readable.fromWeb(upstream.body as WebReadableStream), response);
  return upstream.status;
}
