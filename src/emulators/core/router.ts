/**
 * The request/response shapes every emulator handler speaks, and a tiny router.
 * Handlers are plain functions from a fully read request to a response value; the
 * HTTP server (http-server.ts) does all the node:http plumbing around them.
 */
import type { IncomingHttpHeaders } from 'node:http';

/** A request as every emulator handler sees it: fully read, size-capped, with its path parameters. */
export interface EmulatorRequest {
  readonly method: string;
  /** Absolute URL (host is always the loopback address the server listens on). */
  readonly url: URL;
  /** `url.pathname` without a trailing slash (except for `/`). */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** The whole body, already read and size-capped. */
  readonly body: Buffer;
  /** Path parameters filled in by the router (`:number` → `params.number`). */
  params: Record<string, string>;
}

/** What a handler returns instead of writing to a socket, so fault rules and guards can edit answers. */
export interface EmulatorResponse {
  status: number;
  headers?: Record<string, string>;
  /** Sent as is when a string or a Buffer, JSON-encoded otherwise; no body when undefined. */
  body?: unknown;
  /** Reset the connection instead of answering (a fault rule's `reset`); the rest is ignored. */
  dropConnection?: boolean;
}

/** Whether an answer's body is a value that goes out JSON-encoded (see EmulatorResponse.body). */
export function isJsonValueBody(body: unknown): boolean {
  return body !== undefined && typeof body !== 'string' && !Buffer.isBuffer(body);
}

/** An answer's body as it goes on the wire; undefined: no body. */
export function bodyBytes(body: unknown): Buffer | undefined {
  if (body === undefined || Buffer.isBuffer(body)) return body;
  return Buffer.from(typeof body === 'string' ? body : JSON.stringify(body), 'utf8');
}

/** One route of an emulator: a plain function from request to answer, with no node:http in sight. */
export type RouteHandler = (request: EmulatorRequest) => EmulatorResponse | Promise<EmulatorResponse>;

export function jsonResponse(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): EmulatorResponse {
  return { status, headers: { 'content-type': 'application/json', ...headers }, body };
}

/** First value of a request header (node lower-cases header names). */
export function headerValue(request: EmulatorRequest, name: string): string | undefined {
  const value = request.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

export function normalizePath(pathname: string): string {
  return pathname.length > 1 && pathname.endsWith('/') ? pathname.replace(/\/+$/, '') || '/' : pathname;
}

export interface RouterFallbacks {
  notFound(request: EmulatorRequest): EmulatorResponse;
  methodNotAllowed(request: EmulatorRequest, allowed: string[]): EmulatorResponse;
}

interface Route {
  method: string;
  segments: string[];
  handler: RouteHandler;
}

/**
 * Exact-segment router: `/v1/bills/show/:number`. Unknown path → 404, known path with another
 * method → 405; HEAD takes the GET route.
 */
export class Router {
  readonly #routes: Route[] = [];
  readonly #fallbacks: RouterFallbacks;

  constructor(fallbacks: RouterFallbacks) {
    this.#fallbacks = fallbacks;
  }

  add(method: string, pattern: string, handler: RouteHandler): this {
    this.#routes.push({ method: method.toUpperCase(), segments: splitPath(pattern), handler });
    return this;
  }

  readonly handle = async (request: EmulatorRequest): Promise<EmulatorResponse> => {
    const segments = splitPath(request.path);
    const allowed: string[] = [];
    for (const route of this.#routes) {
      const params = matchSegments(route.segments, segments);
      if (!params) continue;
      // HEAD is served by the GET route, as Laravel and Rails do; node:http drops the body.
      const method = request.method === 'HEAD' ? 'GET' : request.method;
      if (route.method !== method) {
        allowed.push(route.method);
        continue;
      }
      request.params = params;
      return route.handler(request);
    }
    return allowed.length > 0
      ? this.#fallbacks.methodNotAllowed(request, [...new Set(allowed)])
      : this.#fallbacks.notFound(request);
  };
}

function splitPath(path: string): string[] {
  return path.split('/').filter((segment) => segment.length > 0);
}

function matchSegments(pattern: string[], actual: string[]): Record<string, string> | undefined {
  if (pattern.length !== actual.length) return undefined;
  const params: Record<string, string> = {};
  for (const [index, expected] of pattern.entries()) {
    const segment = actual[index] as string;
    if (expected.startsWith(':')) {
      try {
        params[expected.slice(1)] = decodeURIComponent(segment);
      } catch {
        return undefined;
      }
    } else if (expected !== segment) {
      return undefined;
    }
  }
  return params;
}
