/** http/buffered-request against a real node:http server on 127.0.0.1. */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { BodyTooLargeError } from '../../src/http/bounded-body.js';
import { bufferedRequest } from '../../src/http/buffered-request.js';
import { networkFailureOf } from '../../src/http/network-errors.js';

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

const CAP = 1024;

/** Waits for `promise`, but fails the test after two seconds instead of hanging it. */
async function within(promise: Promise<void>, what: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within 2 s`)), 2_000);
  });
  try {
    await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe('bufferedRequest', () => {
  let server: Server;
  let origin: string;
  let handle: Handler = (_req, res) => res.end();
  /** Method and path of every request the server received. */
  let received: string[] = [];

  before(async () => {
    server = createServer((req, res) => {
      received.push(`${req.method} ${req.url}`);
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => handle(req, res, body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  function serve(handler: Handler): void {
    handle = handler;
    received = [];
  }

  it('sends the method, headers and body, and answers with status, status text, headers and body', async () => {
    serve((req, res, body) =>
      res
        .writeHead(201, 'Made Here', { 'x-answer': '42', 'set-cookie': ['a=1', 'b=2'] })
        .end(JSON.stringify({ method: req.method, headers: req.headers, body })),
    );
    const sends: Array<[RequestInit['headers'], RequestInit['body'], string, string | undefined]> = [
      [
        new Headers({ 'X-Asked': 'headers' }),
        new URLSearchParams({ grant_type: 'refresh_token', a: 'b c' }),
        'grant_type=refresh_token&a=b+c',
        'application/x-www-form-urlencoded;charset=UTF-8',
      ],
      [{ 'x-asked': 'record' }, '{"json":true}', '{"json":true}', 'text/plain;charset=UTF-8'],
      [[['X-Asked', 'pairs']], new TextEncoder().encode('bytes'), 'bytes', undefined],
    ];
    for (const [headers, body, sentBody, contentType] of sends) {
      const response = await bufferedRequest(`${origin}/token`, { method: 'post', headers, body }, CAP);
      assert.equal(response.status, 201);
      assert.equal(response.statusText, 'Made Here');
      assert.equal(response.headers.get('x-answer'), '42');
      assert.deepEqual(response.headers.getSetCookie(), ['a=1', 'b=2']);
      const seen = (await response.json()) as {
        method: string;
        headers: Record<string, string>;
        body: string;
      };
      assert.equal(seen.method, 'POST');
      assert.equal(seen.body, sentBody);
      assert.equal(
        seen.headers['x-asked'],
        headers instanceof Headers ? 'headers' : Array.isArray(headers) ? 'pairs' : 'record',
      );
      assert.equal(seen.headers['content-type'], contentType);
      assert.equal(seen.headers['content-length'], String(Buffer.byteLength(sentBody)));
      assert.equal(seen.headers['accept-encoding'], 'identity');
    }
  });

  it('returns a 3xx as it is, and refuses to follow redirects before sending anything', async () => {
    serve((_req, res) => res.writeHead(302, { location: '/elsewhere' }).end('moved'));
    const response = await bufferedRequest(`${origin}/start`, { redirect: 'manual' }, CAP);
    assert.equal(response.status, 302);
    assert.equal(response.headers.get('location'), '/elsewhere');
    assert.equal(await response.text(), 'moved');
    assert.deepEqual(received, ['GET /start']);

    received = [];
    await assert.rejects(bufferedRequest(`${origin}/start`, { redirect: 'follow' }, CAP), (error: Error) => {
      assert.ok(error instanceof TypeError);
      assert.match(error.message, /does not follow redirects/);
      return true;
    });
    assert.deepEqual(received, []);
  });

  it('refuses a body whose Content-Length is over the cap, without waiting for the body', async () => {
    // Declares far more than the cap, sends one byte and holds the response open.
    serve((_req, res) => res.writeHead(200, { 'content-length': String(10 * 1024 * 1024) }).write('x'));
    await assert.rejects(
      bufferedRequest(`${origin}/big`, { signal: AbortSignal.timeout(2_000) }, CAP),
      (error: Error) => error instanceof BodyTooLargeError && error.limitBytes === CAP,
    );
  });

  it('stops reading a streamed body as soon as it passes the cap, and closes the connection', async () => {
    let closed: Promise<void> = Promise.resolve();
    // Chunked, no length: the cap and one byte more, then the response stays open.
    serve((_req, res) => {
      closed = new Promise((resolve) => res.once('close', resolve));
      res.writeHead(200);
      res.write('x'.repeat(CAP / 2));
      setTimeout(() => res.write('x'.repeat(CAP / 2 + 1)), 20);
    });
    await assert.rejects(
      bufferedRequest(`${origin}/stream`, { signal: AbortSignal.timeout(2_000) }, CAP),
      (error: Error) => error instanceof BodyTooLargeError,
    );
    await within(closed, 'the connection closing');

    serve((_req, res) => res.end('x'.repeat(CAP)));
    const atTheCap = await bufferedRequest(`${origin}/stream`, {}, CAP);
    assert.equal((await atTheCap.arrayBuffer()).byteLength, CAP);
  });

  it('rejects with the signal’s TimeoutError when the server does not answer, and ends the request', async () => {
    let closed: Promise<void> = Promise.resolve();
    serve((req) => {
      closed = new Promise((resolve) => req.socket.once('close', () => resolve()));
    });
    await assert.rejects(
      bufferedRequest(`${origin}/silent`, { method: 'POST', signal: AbortSignal.timeout(100) }, CAP),
      (error: Error) => {
        assert.ok(error instanceof DOMException);
        assert.equal(error.name, 'TimeoutError');
        assert.deepEqual(networkFailureOf(error), { kind: 'timeout' });
        return true;
      },
    );
    await within(closed, 'the request ending');
  });

  it('reports a refused connection with its system code', async () => {
    const closedServer = createServer();
    await new Promise<void>((resolve) => closedServer.listen(0, '127.0.0.1', resolve));
    const port = (closedServer.address() as AddressInfo).port;
    await new Promise((resolve) => closedServer.close(resolve));
    await assert.rejects(bufferedRequest(`http://127.0.0.1:${port}/token`, {}, CAP), (error: unknown) => {
      assert.deepEqual(networkFailureOf(error), { kind: 'unreachable', code: 'ECONNREFUSED' });
      return true;
    });
  });

  it('reports a connection dropped in the middle of the body as unreachable', async () => {
    serve((_req, res) => {
      res.writeHead(200, { 'content-length': '100' }).write('{"access_');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const signal = AbortSignal.timeout(2_000);
    await assert.rejects(bufferedRequest(`${origin}/token`, { signal }, CAP), (error: unknown) => {
      assert.deepEqual(networkFailureOf(error), { kind: 'unreachable', code: 'ECONNRESET' });
      return true;
    });
  });

  it('answers 204 and 304 with a null body', async () => {
    for (const status of [204, 304]) {
      serve((_req, res) => res.writeHead(status).end());
      const response = await bufferedRequest(`${origin}/revoke`, { method: 'POST', body: 'token=x' }, CAP);
      assert.equal(response.status, status);
      assert.equal(response.body, null);
    }
  });
});
