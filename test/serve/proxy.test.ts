/**
 * /proxy end to end over real HTTP: bodies stream both ways (the test proves each side
 * saw the first chunk before the last one was sent), status and headers are kept,
 * hop-by-hop headers and the caller's Authorization stay behind, and the library's 401
 * (one renewal) and 429 (Retry-After) rules apply.
 */
import assert from 'node:assert/strict';
import { Agent, createServer, type IncomingHttpHeaders, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { connectFactus, SECRET, type ServeRig, startServeRig } from './serve-rig.js';

/** Resolves `true` when `promise` settles within `ms`, `false` otherwise. */
function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return Promise.race([
    promise.then(() => true),
    new Promise<boolean>((r) => setTimeout(() => r(false), ms)),
  ]);
}

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** A GET over node:http, which neither decodes a body nor hides a hop-by-hop header. */
function rawGet(url: string, headers: Record<string, string>, agent?: Agent) {
  return new Promise<{ status: number; headers: IncomingHttpHeaders; bytes: Buffer; body: string }>(
    (resolve, reject) => {
      const req = request(url, { headers, ...(agent ? { agent } : {}) }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const bytes = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, bytes, body: bytes.toString() });
        });
      });
      req.on('error', reject);
      req.end();
    },
  );
}

/** A POST over node:http whose body the test writes chunk by chunk, and its answer. */
function rawUpload(url: string, headers: Record<string, string>, agent?: Agent) {
  const answer = deferred();
  let settled: { status: number; body: string } | Error | undefined;
  const outgoing = request(url, { method: 'POST', headers, ...(agent ? { agent } : {}) }, (res) => {
    const chunks: Buffer[] = [];
    res.on('data', (chunk: Buffer) => chunks.push(chunk));
    res.on('end', () => {
      settled = { status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() };
      answer.resolve();
    });
  });
  outgoing.on('error', (error) => {
    settled ??= error;
    answer.resolve();
  });
  return { outgoing, answered: answer.promise, result: () => settled };
}

const GZIPPED_TEXT = 'tokenkeeper '.repeat(1_000);

/** An API that shows what it received and streams on cue. */
async function startUpstream() {
  const seen: { headers?: IncomingHttpHeaders } = {};
  const downstreamGotFirst = deferred();
  const upstreamGotFirst = deferred();
  const flags = { downloadStreamed: false, uploadStreamed: false };
  const hits = { resetOnce: 0 };
  const endlessClosed = deferred();
  const uploadAbandoned = deferred();
  const server = createServer(async (req, res) => {
    if (req.url === '/echo?x=1') {
      seen.headers = req.headers;
      res.writeHead(203, {
        'x-upstream': 'yes',
        connection: 'x-hop',
        'x-hop': 'dropped',
        'set-cookie': ['a=1', 'b=2'],
      });
      res.end(JSON.stringify({ ok: true }));
      return;
    }
    if (req.url === '/gzip') {
      seen.headers = req.headers;
      const packed = gzipSync(GZIPPED_TEXT);
      res.writeHead(200, {
        'content-type': 'text/plain',
        'content-encoding': 'gzip',
        'content-length': packed.length,
      });
      res.end(packed);
      return;
    }
    if (req.url === '/reset-once') {
      hits.resetOnce++;
      // The first attempt loses its connection before any answer, as a restarting server does.
      if (hits.resetOnce === 1) req.socket.destroy();
      else res.writeHead(200, { 'content-type': 'text/plain' }).end('second try');
      return;
    }
    if (req.url === '/download') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first\n');
      // The rest is sent only once the caller has the first chunk (or after 5 s, and the test fails).
      flags.downloadStreamed = await within(downstreamGotFirst.promise, 5_000);
      res.end('second\n');
      return;
    }
    if (req.url === '/dies-midway') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first\n');
      setTimeout(() => req.socket.destroy(), 50);
      return;
    }
    if (req.url === '/endless') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const timer = setInterval(() => res.write('more\n'), 20);
      res.on('close', () => {
        clearInterval(timer);
        endlessClosed.resolve();
      });
      return;
    }
    if (req.url === '/upload-held') {
      // Reads the body and never answers: the caller is the one to go away.
      req.once('data', () => upstreamGotFirst.resolve());
      req.once('close', () => {
        if (!req.complete) uploadAbandoned.resolve();
      });
      req.resume();
      return;
    }
    if (req.url === '/upload-dies') {
      req.once('data', () => req.socket.destroy());
      return;
    }
    if (req.url === '/upload' && req.method === 'POST') {
      let bytes = 0;
      for await (const chunk of req) {
        if (bytes === 0) upstreamGotFirst.resolve();
        bytes += (chunk as Buffer).length;
      }
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ bytes }));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    flags,
    hits,
    downstreamGotFirst,
    upstreamGotFirst,
    endlessClosed,
    uploadAbandoned,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A connection whose API is the upstream above and whose tokens come from the Factus emulator. */
async function connectToUpstream(rig: ServeRig, name: string, upstreamUrl: string): Promise<void> {
  const { clientId, clientSecret, username, password } = rig.factus.credentials;
  await rig.cli.connect(name, {
    provider: 'oauth2',
    grant: 'password',
    baseUrl: upstreamUrl,
    tokenUrl: `${rig.factus.url}/oauth/token`,
    clientId,
    clientSecret,
    username,
    password,
  });
}

describe('/proxy', () => {
  it('keeps status and headers, drops hop-by-hop headers and the caller’s Authorization, injects the credential', async () => {
    const upstream = await startUpstream();
    const rig = await startServeRig();
    try {
      await connectToUpstream(rig, 'api', upstream.url);
      // node:http, not fetch: fetch refuses to send hop-by-hop headers at all.
      const response = await rawGet(`${rig.daemon.url}/proxy/api/echo?x=1`, {
        authorization: `Bearer ${SECRET}`,
        'x-custom': 'kept',
        connection: 'x-private',
        'x-private': 'hop',
        'proxy-authorization': 'Basic c2VjcmV0',
        cookie: 'tokenkeeper_session=abc',
      });
      assert.equal(response.status, 203, response.body);
      assert.equal(response.headers['x-upstream'], 'yes');
      assert.equal(
        response.headers['x-hop'],
        undefined,
        'a header the upstream named in Connection stays behind',
      );
      assert.deepEqual(response.headers['set-cookie'], ['a=1', 'b=2']);
      assert.deepEqual(JSON.parse(response.body), { ok: true });

      const headers = upstream.seen.headers ?? {};
      assert.equal(headers['x-custom'], 'kept');
      assert.equal(headers['x-private'], undefined);
      assert.equal(headers['proxy-authorization'], undefined);
      assert.equal(headers.cookie, undefined);
      const expected = await rig.cli.getAccessToken('api');
      assert.equal(headers.authorization, `Bearer ${expected}`);
      assert.ok(!JSON.stringify(headers).includes(SECRET), 'the access secret never goes upstream');
    } finally {
      await rig.close();
      await upstream.close();
    }
  });

  it('streams a response body: the caller reads the first chunk before the upstream sends the rest', async () => {
    const upstream = await startUpstream();
    const rig = await startServeRig();
    try {
      await connectToUpstream(rig, 'api', upstream.url);
      const response = await rig.call('/proxy/api/download');
      assert.equal(response.status, 200);
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      const decoder = new TextDecoder();
      let text = '';
      while (!text.includes('first')) {
        const { value, done } = await reader.read();
        assert.ok(!done, 'the body ended before its first chunk');
        text += decoder.decode(value, { stream: true });
      }
      upstream.downstreamGotFirst.resolve();
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
        text += decoder.decode(chunk.value, { stream: true });
      }
      assert.equal(text, 'first\nsecond\n');
      assert.ok(
        upstream.flags.downloadStreamed,
        'the first chunk arrived while the upstream still held the rest',
      );
    } finally {
      await rig.close();
      await upstream.close();
    }
  });

  it('a caller that goes away ends the provider’s response too', async () => {
    const upstream = await startUpstream();
    const rig = await startServeRig();
    try {
      await connectToUpstream(rig, 'api', upstream.url);
      const caller = new AbortController();
      const response = await rig.call('/proxy/api/endless', { signal: caller.signal });
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      await reader.read();
      caller.abort();
      assert.ok(await within(upstream.endlessClosed.promise, 3_000), 'the provider’s response was closed');
    } finally {
      await rig.close();
      await upstream.close();
    }
  });

  it('a provider that dies in the middle of its answer ends the caller’s response, which does not hang', async () => {
    const upstream = await startUpstream();
    const rig = await startServeRig();
    try {
      await connectToUpstream(rig, 'api', upstream.url);
      const response = await rig.call('/proxy/api/dies-midway');
      assert.equal(response.status, 200);
      const reading = response.text().then(
        () => 'ended as if whole',
        () => 'cut off',
      );
      assert.ok(await within(reading, 3_000), 'the caller’s response was ended');
      assert.equal(await reading, 'cut off');
    } finally {
      await rig.close();
      await upstream.close();
    }
  });

  it('streams a request body: the upstream reads the first chunk before the caller sends the rest', async () => {
    const upstream = await startUpstream();
    const rig = await startServeRig();
    try {
      await connectToUpstream(rig, 'api', upstream.url);
      const chunk = new Uint8Array(64 * 1024).fill(97);
      let sentSecondAfterFirstArrived = false;
      const body = new ReadableStream<Uint8Array>({
        async start(controller) {
          controller.enqueue(chunk);
          sentSecondAfterFirstArrived = await within(upstream.upstreamGotFirst.promise, 5_000);
          controller.enqueue(chunk);
          controller.close();
        },
      });
      const response = await rig.call('/proxy/api/upload', {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/octet-stream' },
        duplex: 'half',
      } as RequestInit);
      assert.equal(response.status, 201);
      assert.deepEqual(await response.json(), { bytes: 2 * chunk.length });
      assert.ok(sentSecondAfterFirstArrived, 'the upstream had the first chunk before the second was sent');
    } finally {
      await rig.close();
      await upstream.close();
    }
  });

  it('a caller that goes away in the middle of its body ends the provider’s request too', async () => {
    const upstream = await startUpstream();
    const rig = await startServeRig();
    try {
      await connectToUpstream(rig, 'api', upstream.url);
      const upload = rawUpload(`${rig.daemon.url}/proxy/api/upload-held`, {
        authorization: `Bearer ${SECRET}`,
        'content-type': 'application/octet-stream',
      });
      upload.outgoing.write(Buffer.alloc(16 * 1024, 97));
      assert.ok(
        await within(upstream.upstreamGotFirst.promise, 3_000),
        'the first chunk reached the provider',
      );
      upload.outgoing.destroy();
      assert.ok(
        await within(upstream.uploadAbandoned.promise, 3_000),
        'the provider’s request was ended before its body was complete',
      );
    } finally {
      await rig.close();
      await upstream.close();
    }
  });

  it('a provider that goes away in the middle of a body gets the caller a 502, not a cut connection', async () => {
    const upstream = await startUpstream();
    const rig = await startServeRig();
    try {
      await connectToUpstream(rig, 'api', upstream.url);
      // One keep-alive connection: the next request goes on it once this one is done.
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      const upload = rawUpload(
        `${rig.daemon.url}/proxy/api/upload-dies`,
        { authorization: `Bearer ${SECRET}`, 'content-type': 'application/octet-stream' },
        agent,
      );
      upload.outgoing.write(Buffer.alloc(16 * 1024, 97));
      assert.ok(await within(upload.answered, 3_000), 'the caller was answered while still sending');
      const result = upload.result();
      assert.ok(!(result instanceof Error), `the caller got an answer, not ${String(result)}`);
      assert.equal(result?.status, 502, result?.body);
      const { error } = JSON.parse(result?.body ?? '{}') as { error: { code: string } };
      assert.equal(error.code, 'NETWORK');
      // The caller sends the rest of its body, which the daemon drops, and its connection goes on.
      upload.outgoing.end(Buffer.alloc(64 * 1024, 98));
      const next = rawGet(`${rig.daemon.url}/healthz`, {}, agent);
      assert.ok(await within(next, 3_000), 'the next request on the connection was answered');
      assert.equal((await next).status, 200);
      agent.destroy();
    } finally {
      await rig.close();
      await upstream.close();
    }
  });

  it('passes a compressed body untouched, with its encoding and length', async () => {
    const upstream = await startUpstream();
    const rig = await startServeRig();
    try {
      await connectToUpstream(rig, 'api', upstream.url);
      const response = await rawGet(`${rig.daemon.url}/proxy/api/gzip`, {
        authorization: `Bearer ${SECRET}`,
        'accept-encoding': 'gzip',
      });
      assert.equal(response.status, 200);
      assert.equal(
        upstream.seen.headers?.['accept-encoding'],
        'gzip',
        'the caller’s Accept-Encoding went on',
      );
      assert.equal(response.headers['content-encoding'], 'gzip');
      assert.equal(Number(response.headers['content-length']), response.bytes.length);
      assert.ok(response.bytes.length < GZIPPED_TEXT.length, 'the body came back still compressed');
      assert.equal(gunzipSync(response.bytes).toString(), GZIPPED_TEXT);
    } finally {
      await rig.close();
      await upstream.close();
    }
  });

  it('sends a GET again after its connection was reset; an upstream that is down is a 502 naming it', async () => {
    const upstream = await startUpstream();
    const rig = await startServeRig();
    const down = createServer();
    await new Promise<void>((resolve) => down.listen(0, '127.0.0.1', resolve));
    const downUrl = `http://127.0.0.1:${(down.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => down.close(() => resolve()));
    try {
      await connectToUpstream(rig, 'api', upstream.url);
      const retried = await rig.call('/proxy/api/reset-once');
      assert.equal(retried.status, 200);
      assert.equal(await retried.text(), 'second try');
      assert.equal(upstream.hits.resetOnce, 2, 'one reset, one retry');

      await connectToUpstream(rig, 'gone', downUrl);
      const refused = await rig.call('/proxy/gone/v1/bills');
      assert.equal(refused.status, 502);
      const { error } = (await refused.json()) as { error: { code: string; message: string } };
      assert.equal(error.code, 'NETWORK');
      assert.match(error.message, new RegExp(`Could not reach ${downUrl} \\(ECONNREFUSED\\)`));

      // The same with a body, which is sent once and never again.
      const withBody = await rig.call('/proxy/gone/v1/bills', { method: 'POST', body: '{"a":1}' });
      assert.equal(withBody.status, 502);
      const refusedBody = (await withBody.json()) as { error: { code: string; message: string } };
      assert.equal(refusedBody.error.code, 'NETWORK');
      assert.match(refusedBody.error.message, new RegExp(`Could not reach ${downUrl} \\(ECONNREFUSED\\)`));
    } finally {
      await rig.close();
      await upstream.close();
    }
  });

  it('a provider that drops the connection of a request with a body is a 502, as without one', async () => {
    const logged: string[] = [];
    const rig = await startServeRig({ daemon: { log: (line) => logged.push(line) } });
    try {
      await connectFactus(rig, 'acme');
      for (const [method, path, body] of [
        ['POST', '/v1/bills/validate', '{"a":1}'],
        ['DELETE', '/v1/bills/destroy/reference/x', '{"b":2}'],
        ['GET', '/v1/bills', undefined],
      ] as const) {
        // A GET is sent again after a reset (three times in all); a request with a body is not.
        rig.factus.faults.add({ point: 'api', reset: true, count: body ? 1 : 3 });
        const response = await rig.call(`/proxy/acme${path}`, {
          method,
          ...(body ? { body, headers: { 'content-type': 'application/json' } } : {}),
        });
        const answer = (await response.json()) as { error: { code: string; message: string } };
        assert.equal(response.status, 502, `${method}: ${JSON.stringify(answer)}`);
        assert.equal(answer.error.code, 'NETWORK', method);
        assert.match(answer.error.message, /ECONNRESET/, method);
      }
      assert.deepEqual(logged, [], 'a 502 is the caller’s to read, not the log’s');
    } finally {
      await rig.close();
    }
  });

  it('a 401 while the token endpoint fails waits out the connection’s back-off before asking again', async () => {
    const rig = await startServeRig({
      daemon: { keeper: { tokenRetry: { initialMs: 60_000, jitter: 'none' } } },
    });
    try {
      await connectFactus(rig, 'acme');
      await rig.advance(5_000, 5_000); // older than the least interval between refreshes
      rig.factus.faults.add({ point: 'token', status: 503 });
      rig.factus.faults.add({ point: 'api', status: 401 });
      const tokenRequests = () => rig.factus.stats().faults.token ?? 0;
      const fails = async () => {
        const response = await rig.call('/proxy/acme/v1/bills');
        const { error } = (await response.json()) as { error: { code: string } };
        assert.equal(response.status, 502);
        assert.equal(error.code, 'TOKEN_RESPONSE');
      };
      await fails();
      const first = tokenRequests();
      assert.ok(first >= 1, 'the first 401 asked for a new token');
      for (let i = 0; i < 10; i++) await fails();
      assert.equal(tokenRequests(), first, 'no token request inside the back-off');
      await rig.clock.advance(60_000);
      await fails();
      assert.ok(tokenRequests() > first, 'asked again once the back-off ended');
    } finally {
      await rig.close();
    }
  });

  it('renews the token once after a 401, and waits out a 429 with Retry-After', async () => {
    const rig = await startServeRig();
    try {
      await connectFactus(rig, 'acme');
      await rig.advance(5_000, 5_000); // older than the least interval between refreshes
      const refreshesBefore = rig.factus.stats().tokenRequests.refresh_token ?? 0;

      rig.factus.faults.add({ point: 'api', status: 401, count: 1 });
      const renewed = await rig.call('/proxy/acme/v1/bills');
      assert.equal(renewed.status, 200);
      assert.equal((rig.factus.stats().tokenRequests.refresh_token ?? 0) - refreshesBefore, 1, 'one renewal');

      rig.factus.faults.add({ point: 'api', status: 429, retryAfter: 1, count: 1 });
      const before = rig.factus.stats();
      const started = Date.now();
      const waited = await rig.call('/proxy/acme/v1/bills');
      assert.equal(waited.status, 200);
      const after = rig.factus.stats();
      assert.equal((after.faults.api ?? 0) - (before.faults.api ?? 0), 1, 'the 429');
      assert.equal(after.apiRequests - before.apiRequests, 1, 'then the retry');
      assert.ok(Date.now() - started >= 900, 'Retry-After was waited out');

      // Longer than the keeper waits: the 429 goes back to the caller with its Retry-After.
      rig.factus.faults.add({ point: 'api', status: 429, retryAfter: 3600, count: 1 });
      const refused = await rig.call('/proxy/acme/v1/bills');
      assert.equal(refused.status, 429);
      assert.equal(refused.headers.get('retry-after'), '3600');
      await refused.body?.cancel();

      const unknown = await rig.call('/proxy/nosuch/v1/bills');
      assert.equal(unknown.status, 404);
    } finally {
      await rig.close();
    }
  });
});
