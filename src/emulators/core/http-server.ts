/**
 * node:http glue: listens on 127.0.0.1 only (port 0 picks a free port), reads and
 * size-caps the body, hands a plain EmulatorRequest to the handler and writes the
 * EmulatorResponse back. Nothing here logs: bodies and headers carry secrets.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEFAULT_MAX_BODY_BYTES, readRequestBody } from './body.js';
import {
  bodyBytes,
  type EmulatorRequest,
  type EmulatorResponse,
  isJsonValueBody,
  normalizePath,
} from './router.js';

export const LOOPBACK_HOST = '127.0.0.1';

export interface HttpServerOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  maxBodyBytes?: number;
  handler: (request: EmulatorRequest) => Promise<EmulatorResponse>;
  payloadTooLarge: (maxBodyBytes: number) => EmulatorResponse;
  /** The answer when a handler throws; the error itself is not logged. */
  serverError: () => EmulatorResponse;
}

export interface RunningHttpServer {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function startHttpServer(options: HttpServerOptions): Promise<RunningHttpServer> {
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  let baseUrl = '';

  const server = createServer((incoming, outgoing) => {
    void respond(incoming, outgoing).catch(() => {
      if (!outgoing.headersSent) writeResponse(outgoing, options.serverError());
      else outgoing.destroy();
    });
  });

  async function respond(incoming: IncomingMessage, outgoing: ServerResponse): Promise<void> {
    const read = await readRequestBody(incoming, maxBodyBytes);
    if (read.tooLarge) {
      const response = options.payloadTooLarge(maxBodyBytes);
      writeResponse(outgoing, { ...response, headers: { ...response.headers, connection: 'close' } });
      return;
    }
    const url = new URL(incoming.url ?? '/', baseUrl);
    const request: EmulatorRequest = {
      method: (incoming.method ?? 'GET').toUpperCase(),
      url,
      path: normalizePath(url.pathname),
      headers: incoming.headers,
      body: read.body,
      params: {},
    };
    let response: EmulatorResponse;
    try {
      response = await options.handler(request);
    } catch {
      response = options.serverError();
    }
    if (response.dropConnection) incoming.socket.resetAndDestroy();
    else writeResponse(outgoing, response);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, LOOPBACK_HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  baseUrl = `http://${LOOPBACK_HOST}:${port}`;

  let closing: Promise<void> | undefined;
  return {
    url: baseUrl,
    port,
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

function writeResponse(outgoing: ServerResponse, response: EmulatorResponse): void {
  const headers: Record<string, string> = { ...response.headers };
  const payload = bodyBytes(response.body);
  if (isJsonValueBody(response.body)) headers['content-type'] ??= 'application/json';
  if (payload !== undefined) headers['content-length'] = String(payload.length);
  outgoing.writeHead(response.status, headers);
  outgoing.end(payload);
}
