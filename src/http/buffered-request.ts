/**
 * Small exchanges with an authorization server (token, revocation, discovery) over node:http.
 * Their answers are a few hundred bytes, read whole and bounded, so what fetch adds per
 * request (WHATWG streams, its dispatcher, decoding) buys nothing here, and it cost more
 * than twice the CPU of this (docs/design.md): a daemon refreshing hundreds of connections
 * a second pays that on each.
 *
 * Where it differs from fetch, on purpose:
 * - a 3xx comes back as it is (`redirect: 'manual'`, which oauth4webapi always asks for);
 *   asking to follow redirects, or to fail on them, is refused before anything is sent;
 * - it asks for no compression (`Accept-Encoding: identity`) and decodes none;
 * - it has no timeout of its own: callers pass a signal (ours always do).
 */
import type { IncomingMessage } from 'node:http';
import { BodyTooLargeError, bufferResponse, NULL_BODY_STATUSES } from './bounded-body.js';
import { socketFailure } from './network-errors.js';

/**
 * Sends one request and answers with its body read into memory: at most `maxBodyBytes`,
 * else it rejects with BodyTooLargeError.
 */
export type BufferedFetch = (url: string, init: RequestInit, maxBodyBytes: number) => Promise<Response>;

/** A caller's own fetch, its answers read into memory with the same bound. */
export function bufferedThrough(fetchImpl: typeof fetch): BufferedFetch {
  return async (url, init, maxBodyBytes) => bufferResponse(await fetchImpl(url, init), maxBodyBytes);
}

// node:http is loaded with the first request, not with this module: options.ts imports it,
// and printing a fresh token (the CLI's start-up) sends no request at all.
let agents: Promise<typeof import('./keep-alive-agents.js')> | undefined;

export async function bufferedRequest(
  url: string | URL,
  init: RequestInit,
  maxBodyBytes: number,
): Promise<Response> {
  if (init.redirect !== undefined && init.redirect !== 'manual') {
    throw new TypeError(
      `bufferedRequest does not follow redirects (redirect: '${init.redirect}'); pass redirect: 'manual' and read the 3xx.`,
    );
  }
  const [body, contentType] = encodeBody(init.body);
  const headers = Object.fromEntries(new Headers(init.headers));
  if (body) {
    headers['content-length'] = String(body.byteLength);
    if (contentType && headers['content-type'] === undefined) headers['content-type'] = contentType;
  }
  headers['accept-encoding'] = 'identity';
  const signal = init.signal ?? undefined;
  agents ??= import('./keep-alive-agents.js');
  const { keepAliveRequest } = await agents;
  signal?.throwIfAborted();

  return new Promise((resolve, reject) => {
    const request = keepAliveRequest(String(url), { method: (init.method ?? 'GET').toUpperCase(), headers });
    const fail = (error: unknown) => {
      signal?.removeEventListener('abort', abort);
      request.destroy();
      reject(error);
    };
    // The signal's reason as it is: a timeout stays a TimeoutError (network-errors.ts).
    const abort = () => fail(signal?.reason);
    signal?.addEventListener('abort', abort, { once: true });
    // `on`, not `once`: a destroyed request may report its socket once more.
    request.on('error', (error) => fail(socketFailure(error)));
    request.on('response', (response) => {
      if (Number(response.headers['content-length']) > maxBodyBytes) {
        return fail(new BodyTooLargeError(maxBodyBytes));
      }
      const chunks: Buffer[] = [];
      let total = 0;
      response.on('data', (chunk: Buffer) => {
        total += chunk.byteLength;
        if (total > maxBodyBytes) fail(new BodyTooLargeError(maxBodyBytes));
        else chunks.push(chunk);
      });
      response.on('error', (error) => fail(socketFailure(error)));
      response.on('end', () => {
        signal?.removeEventListener('abort', abort);
        try {
          resolve(toResponse(response, Buffer.concat(chunks, total)));
        } catch (invalid) {
          reject(invalid); // a status or status text that a Response cannot hold
        }
      });
    });
    request.end(body);
  });
}

function encodeBody(body: RequestInit['body']): [Uint8Array | undefined, string | undefined] {
  if (body === undefined || body === null) return [undefined, undefined];
  // The content types fetch would give these bodies.
  if (typeof body === 'string') return [Buffer.from(body), 'text/plain;charset=UTF-8'];
  if (body instanceof URLSearchParams) {
    return [Buffer.from(body.toString()), 'application/x-www-form-urlencoded;charset=UTF-8'];
  }
  if (body instanceof Uint8Array) return [body, undefined];
  throw new TypeError('bufferedRequest sends a string, URLSearchParams or bytes as a body.');
}

function toResponse(response: IncomingMessage, body: Buffer): Response {
  const headers = new Headers();
  const raw = response.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
  const status = response.statusCode ?? 0;
  return new Response(NULL_BODY_STATUSES.has(status) ? null : body, {
    status,
    statusText: response.statusMessage ?? '',
    headers,
  });
}
