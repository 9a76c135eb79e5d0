/**
 * The one-shot listener that receives the browser's redirect after the user
 * approves: bound to a loopback address only, on the path and port of the
 * registered redirect URI. Only the response that carries this login's state
 * ends the wait; anything else gets a 400 page and is otherwise ignored.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError, TokenkeeperError } from '../errors.js';

/** A running one-shot callback listener: its redirect URI, the callback URL it receives, and close(). */
export interface LoopbackReceiver {
  /** The redirect URI to send (the real port if the given one was 0). */
  redirectUri: string;
  /** The query parameters the browser brought back. */
  result: Promise<URLSearchParams>;
  close(): Promise<void>;
}

/** What `startLoopbackReceiver` listens on and for, and how long. */
export interface LoopbackReceiverOptions {
  /** A loopback http URI (127.0.0.1, ::1 or localhost) with a port; the path the provider redirects to. */
  redirectUri: string;
  /** The state this login sent; anything else is refused. */
  expectedState: string;
  /** The wait ends with an error after this long. */
  timeoutMs: number;
  /** Ends the wait (Ctrl-C): the result rejects with "cancelled". */
  signal?: AbortSignal;
}

export function isLoopbackRedirectUri(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  } catch {
    return false;
  }
}

/**
 * Listens on a loopback redirect URI (127.0.0.1 or ::1, never a resolved name) for the
 * provider's redirect with this login's state. The wait ends with that redirect, the
 * timeout, `signal` or close(). For command-line tools.
 *
 * @example
 * const receiver = await startLoopbackReceiver({ redirectUri: 'http://127.0.0.1:8765/callback', expectedState: request.state, timeoutMs: 300_000 });
 * const code = readAuthorizationResponse(request, await receiver.result);
 */
export async function startLoopbackReceiver(options: LoopbackReceiverOptions): Promise<LoopbackReceiver> {
  const target = new URL(options.redirectUri);
  if (!isLoopbackRedirectUri(options.redirectUri)) {
    throw new ConfigError(
      `${options.redirectUri} is not a loopback redirect URI (http://127.0.0.1:PORT/path).`,
    );
  }
  if (options.signal?.aborted) throw cancelled();
  // Only ever listen on loopback: "localhost" could resolve elsewhere, so it binds 127.0.0.1.
  const host = target.hostname === '[::1]' ? '::1' : '127.0.0.1';
  let settle!: { resolve(params: URLSearchParams): void; reject(error: Error): void };
  const result = new Promise<URLSearchParams>((resolve, reject) => {
    settle = { resolve, reject };
  });
  result.catch(() => undefined); // observed by the caller; avoid an unhandled rejection if they close first

  // Requests are parsed against a fixed origin: the Host header and odd request targets
  // (`//[`) come from whoever sends them, and must not be able to throw here.
  const origin = `http://${target.host}`;
  const server = createServer((req, res) => {
    const url = URL.canParse(req.url ?? '', origin) ? new URL(req.url ?? '', origin) : undefined;
    if (req.method !== 'GET' || url?.pathname !== target.pathname) {
      page(res, 404, 'Not found', 'This address only receives the login redirect.');
      return;
    }
    const params = url.searchParams;
    if (params.get('state') !== options.expectedState) {
      // Any web page can send a request here (an <img> is enough): refuse it, and keep
      // waiting for the login's own redirect, so a stray request cannot end the login.
      page(
        res,
        400,
        'Login refused',
        'This response does not belong to the login that is waiting, so it was ignored. Nothing was saved.',
      );
      return;
    }
    if (params.has('error')) {
      page(
        res,
        400,
        'Login not completed',
        `The provider answered: ${params.get('error')}. See the terminal.`,
      );
    } else {
      page(res, 200, 'Logged in', 'You can close this window and return to the terminal.');
    }
    finish(params);
  });
  server.on('request', (req: IncomingMessage) => req.socket.setKeepAlive(false));

  const timer = setTimeout(() => {
    finish(
      new TokenkeeperError(
        'AUTHORIZATION',
        `No login came back to ${options.redirectUri} within ${Math.round(options.timeoutMs / 1000)} s. ` +
          'Finish the login in the browser sooner, or check that the redirect URI registered with the provider is exactly this one.',
      ),
    );
  }, options.timeoutMs);
  timer.unref();

  const cancel = () => finish(cancelled());
  options.signal?.addEventListener('abort', cancel, { once: true });

  let finished = false;
  function finish(outcome: URLSearchParams | Error): void {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    if (outcome instanceof Error) settle.reject(outcome);
    else settle.resolve(outcome);
    void close();
  }

  async function close(): Promise<void> {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', cancel);
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new ConfigError(
              `Port ${target.port} is in use, so the login redirect cannot be received there. Close what uses it, or register and pass another --redirect-uri.`,
            )
          : error,
      ),
    );
    server.listen(Number(target.port || 80), host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const redirectUri = new URL(target.href);
  redirectUri.port = String(port);
  return {
    redirectUri: redirectUri.href,
    result,
    close: async () => {
      if (!finished) {
        finished = true;
        settle.reject(cancelled());
      }
      await close();
    },
  };
}

function cancelled(): TokenkeeperError {
  return new TokenkeeperError('AUTHORIZATION', 'The login was cancelled; nothing was saved.');
}

function page(res: ServerResponse, status: number, title: string, text: string): void {
  const html = `<!doctype html><meta charset="utf-8"><title>tokenkeeper: ${escapeHtml(title)}</title><body style="font-family:sans-serif;margin:3em"><h1>${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p></body>`;
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'referrer-policy': 'no-referrer',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
    connection: 'close',
  });
  res.end(html);
}

/** The provider's error code comes from the query string: never let it become markup. */
function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
