import assert from 'node:assert/strict';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { FakeClock } from '../../src/clock.js';
import { startFactusEmulator } from '../../src/emulators/factus/factus-emulator.js';
import type { TokenkeeperError } from '../../src/errors.js';
import { createKeeper, type Keeper } from '../../src/keeper.js';
import { factusProfile } from '../../src/providers/factus.js';
import { generateEncryptionKey } from '../../src/store/encryption.js';
import { MemoryTokenStore } from '../../src/store/memory-store.js';
import { type FactusRig, factusSpec, recordEvents, startFactusRig } from '../helpers/factus.js';

const HOUR = 3600_000;
const API_KEY = 'front-api-key-5c1e';

describe('keeper.fetch', () => {
  describe('401 from the API', () => {
    let rig: FactusRig;
    const emulatorClock = new FakeClock(Date.UTC(2026, 3, 1));
    before(async () => {
      rig = await startFactusRig({
        clock: new FakeClock(emulatorClock.now()),
        emulator: { now: () => emulatorClock.now() },
        keeper: { proactiveRefresh: false },
      });
      await rig.keeper.connect('acme', rig.spec);
    });
    after(() => rig.close());

    it('forces one refresh and retries once; concurrent callers share that refresh', async () => {
      // The provider considers the token expired while our clock does not (clock skew, early revocation).
      // The token is older than the minimum refresh interval, so its 401 means it was revoked.
      await rig.clock.advance(2_000);
      await emulatorClock.advance(2 * HOUR);
      rig.emulator.resetStats();
      const events = recordEvents(rig.keeper);
      const responses = await Promise.all(
        Array.from({ length: 20 }, () => rig.keeper.fetch('acme', '/v1/numbering-ranges')),
      );
      for (const response of responses) {
        assert.equal(response.status, 200);
        await response.arrayBuffer();
      }
      const stats = rig.emulator.stats();
      assert.equal(stats.tokenRequests.refresh_token, 1);
      assert.equal(stats.tokenRequests.total, 1);
      assert.equal(stats.unauthorized, 20);
      assert.equal(stats.apiRequests, 40);
      assert.equal(events.count('refresh'), 1);
    });

    it('does not refresh again when the rejected token was already replaced', async () => {
      const stale = await rig.keeper.getAccessToken('acme');
      await rig.keeper.refresh('acme');
      rig.emulator.resetStats();
      // A request that went out with the old token comes back 401 after the refresh: simulate by
      // sending the stale token ourselves through the same renew path.
      const response = await fetch(`${rig.emulator.url}/v1/bills`, {
        headers: { authorization: `Bearer ${stale}` },
      });
      assert.equal(response.status, 401, 'strict rotation revoked the old token');
      await response.arrayBuffer();
      const ok = await rig.keeper.fetch('acme', '/v1/bills');
      assert.equal(ok.status, 200);
      await ok.arrayBuffer();
      assert.equal(rig.emulator.stats().tokenRequests.total, 0);
    });
  });

  describe('a token replaced while a request waits (strict rotation revokes the old one)', () => {
    it('a request held back by the rate limit goes out with the token held when its slot comes', async () => {
      const pacing = new FakeClock(Date.now());
      const oneASecond = {
        ...factusProfile,
        rateLimits: [{ label: 'Factus (test)', limit: 1, windowMs: 1_000 }],
      };
      const rig = await startFactusRig({
        keeper: { proactiveRefresh: false, pacingClock: pacing, providers: [oneASecond] },
      });
      try {
        await rig.keeper.connect('acme', rig.spec);
        await pacing.advance(2_000);
        const waits: Array<{ connection: string; waitedMs: number }> = [];
        rig.keeper.on('rate_limit_wait', (event) => waits.push(event));
        const first = await rig.keeper.fetch('acme', '/v1/numbering-ranges');
        assert.equal(first.status, 200);
        await first.arrayBuffer();
        assert.deepEqual(waits, [], 'a free slot is no wait');

        const held = rig.keeper.fetch('acme', '/v1/numbering-ranges');
        await until(() => pacing.pendingTimers > 0); // waiting for the next slot
        await rig.keeper.refresh('acme');
        rig.emulator.resetStats();
        const response = await settleWhileAdvancing(held, pacing);
        assert.equal(response.status, 200);
        await response.arrayBuffer();
        const stats = rig.emulator.stats();
        assert.equal(stats.unauthorized, 0, 'sent with the new token, not the one revoked while it waited');
        // One a second, 1% margin: the slot came 1,010 ms after the first request took its own.
        assert.deepEqual(waits, [{ connection: 'acme', waitedMs: 1_010 }]);
        assert.equal(stats.apiRequests, 1);
        assert.equal(stats.tokenRequests.total, 0);
      } finally {
        await rig.close();
      }
    });

    it('a retry whose token another process replaced meanwhile takes the newer one from the store', async () => {
      const clock = new FakeClock(Date.now());
      const emulator = await startFactusEmulator({ now: () => clock.now(), rotation: 'strict' });
      const store = new MemoryTokenStore();
      const shared = {
        store,
        encryptionKey: generateEncryptionKey(),
        clock,
        proactiveRefresh: false,
        env: {},
      };
      const other = createKeeper(shared);
      const sent: string[] = [];
      const keeper = createKeeper({
        ...shared,
        fetch: async (input, init) => {
          if (!String(input).startsWith(emulator.tokenUrl)) {
            sent.push(new Headers(init?.headers).get('authorization') ?? '');
            // The first retry is on its way when another process rotates the tokens again.
            if (sent.length === 2) await other.refresh('acme');
          }
          return fetch(input, init);
        },
      });
      try {
        await keeper.connect('acme', factusSpec(emulator));
        await clock.advance(2_000); // past the minimum refresh interval: a 401 is worth a renewal
        await other.refresh('acme'); // revokes the token `keeper` holds
        emulator.resetStats();

        const response = await keeper.fetch('acme', '/v1/numbering-ranges');
        assert.equal(response.status, 200);
        await response.arrayBuffer();
        const stats = emulator.stats();
        assert.equal(stats.unauthorized, 2);
        assert.equal(stats.tokenRequests.refresh_token, 1, 'only the other process asked the provider');
        assert.equal(new Set(sent).size, 3, 'each attempt carried a newer token');
      } finally {
        await keeper.close();
        await other.close();
        await emulator.stop();
      }
    });

    it('an API that refuses every token costs one refresh: the second renewal only reads the store', async () => {
      const rig = await startFactusRig({ keeper: { proactiveRefresh: false, minRefreshIntervalMs: 0 } });
      try {
        await rig.keeper.connect('acme', rig.spec);
        rig.emulator.resetStats();
        rig.emulator.faults.add({ point: 'api', status: 401 });
        const response = await rig.keeper.fetch('acme', '/v1/numbering-ranges');
        assert.equal(response.status, 401);
        await response.arrayBuffer();
        const stats = rig.emulator.stats();
        assert.equal(stats.tokenRequests.refresh_token, 1);
        assert.equal(stats.faults.api, 2, 'sent twice: once as it came, once renewed');
      } finally {
        await rig.close();
      }
    });
  });

  describe('a 401 while the token endpoint fails', () => {
    const slowRetries = {
      proactiveRefresh: false,
      tokenRetry: { initialMs: 60_000, jitter: 'none' },
    } as const;
    const fetchFails = (keeper: Keeper, said: RegExp) =>
      assert.rejects(keeper.fetch('acme', '/v1/numbering-ranges'), (error: TokenkeeperError) => {
        assert.match(error.message, said);
        return true;
      });

    it('waits out the connection’s back-off: no token request until it ends, then one', async () => {
      // A 400 is no outage, so it is not shared through the store: the session's own back-off holds.
      const rig = await startFactusRig({ keeper: slowRetries });
      try {
        await rig.keeper.connect('acme', rig.spec);
        await rig.clock.advance(2_000); // older than the least interval between refreshes
        rig.emulator.faults.add({ point: 'token', status: 400 });
        rig.emulator.faults.add({ point: 'api', status: 401 });
        const tokenRequests = () => rig.emulator.stats().faults.token ?? 0;
        await fetchFails(rig.keeper, /HTTP 400/);
        assert.equal(tokenRequests(), 1, 'the first 401 asked for a new token');
        for (let i = 0; i < 5; i++) await fetchFails(rig.keeper, /HTTP 400/);
        assert.equal(tokenRequests(), 1, 'no token request inside the back-off');
        await rig.clock.advance(60_000);
        await fetchFails(rig.keeper, /HTTP 400/);
        assert.equal(tokenRequests(), 2, 'asked again once the back-off ended');
      } finally {
        await rig.close();
      }
    });

    it('another process waits out the back-off an outage left in the store', async () => {
      const store = new MemoryTokenStore();
      const key = generateEncryptionKey();
      const rig = await startFactusRig({ keeper: { ...slowRetries, store, encryptionKey: key } });
      const other = createKeeper({ ...slowRetries, store, encryptionKey: key, clock: rig.clock });
      try {
        await rig.keeper.connect('acme', rig.spec);
        await rig.clock.advance(2_000);
        rig.emulator.faults.add({ point: 'token', status: 503 });
        rig.emulator.faults.add({ point: 'api', status: 401 });
        const tokenRequests = () => rig.emulator.stats().faults.token ?? 0;
        await fetchFails(rig.keeper, /HTTP 503/);
        const first = tokenRequests();
        assert.ok(first >= 1, 'the first 401 asked for a new token');
        for (let i = 0; i < 3; i++)
          await fetchFails(other, /could not be read a moment ago .* tokenkeeper tries again in \d+ s\./);
        assert.equal(tokenRequests(), first, 'the other process asked no token inside the back-off');
      } finally {
        await other.close();
        await rig.close();
      }
    });
  });

  describe('redirects, a persistent 401 and 429', () => {
    let rig: FactusRig;
    let front: Server;
    let other: Server;
    let frontUrl: string;
    let otherUrl: string;
    const seen: Array<{
      server: string;
      path: string;
      authorization: string | undefined;
      method: string;
      headers: IncomingHttpHeaders;
      rawHeaders: string[];
    }> = [];
    let rateLimitedOnce = false;

    before(async () => {
      rig = await startFactusRig({ keeper: { proactiveRefresh: false } });
      other = await listen((req, res) => {
        seen.push({
          server: 'other',
          path: req.url ?? '',
          authorization: req.headers.authorization,
          method: req.method ?? '',
          headers: req.headers,
          rawHeaders: req.rawHeaders,
        });
        json(res, 200, { where: 'other' });
      });
      otherUrl = urlOf(other);
      // The connection's origin: forwards the token endpoint to the emulator, plus test routes.
      front = await listen(async (req, res) => {
        const path = req.url ?? '/';
        seen.push({
          server: 'front',
          path,
          authorization: req.headers.authorization,
          method: req.method ?? '',
          headers: req.headers,
          rawHeaders: req.rawHeaders,
        });
        if (path === '/oauth/token') {
          const body = await readBody(req);
          if (new URLSearchParams(body).get('grant_type') === 'authorization_code') {
            // A Factorial-style OAuth login: a Bearer token for a provider that also has an API-key header.
            json(res, 200, { access_token: 'front-bearer', token_type: 'Bearer', expires_in: 7200 });
            return;
          }
          const upstream = await fetch(rig.emulator.tokenUrl, {
            method: 'POST',
            headers: { 'content-type': String(req.headers['content-type']) },
            body,
          });
          res.writeHead(upstream.status, { 'content-type': 'application/json' });
          res.end(await upstream.text());
        } else if (path === '/cross') {
          res.writeHead(302, { location: `${otherUrl}/landing` }).end();
        } else if (path === '/same') {
          res.writeHead(307, { location: '/echo' }).end();
        } else if (path === '/see-other') {
          res.writeHead(303, { location: '/echo' }).end();
        } else if (path === '/echo') {
          json(res, 200, { authorization: req.headers.authorization ? 'present' : 'absent' });
        } else if (path === '/always-401') {
          json(res, 401, { message: 'Unauthenticated.' });
        } else if (path === '/limited') {
          if (!rateLimitedOnce) {
            rateLimitedOnce = true;
            res.writeHead(429, { 'retry-after': '1', 'content-type': 'application/json' }).end('{}');
          } else {
            json(res, 200, { ok: true });
          }
        } else if (path === '/hang') {
          // Never answers: the caller gives up first.
        } else if (path === '/loop') {
          res.writeHead(302, { location: '/loop' }).end();
        } else if (path.startsWith('/api/')) {
          // Factorial's identity endpoints, which check an API key before it is saved.
          json(res, req.headers['x-api-key'] === API_KEY ? 200 : 401, { data: [{ id: 1 }] });
        } else {
          json(res, 404, {});
        }
      });
      frontUrl = urlOf(front);
      await rig.keeper.connect('front', { ...rig.spec, baseUrl: frontUrl });
      await rig.keeper.connect('front-oauth', {
        provider: 'factorial',
        baseUrl: frontUrl,
        clientId: 'front-client',
        clientSecret: 'front-secret',
        authorizationCode: { code: 'front-code', redirectUri: 'http://127.0.0.1:8765/callback' },
      });
      await rig.keeper.connect('front-key', {
        provider: 'factorial',
        baseUrl: frontUrl,
        grant: 'api_key',
        apiKey: API_KEY,
      });
    });
    after(async () => {
      await rig.close();
      for (const server of [front, other]) {
        server.closeAllConnections();
        server.close();
      }
    });

    // Headers a caller may pass for the connection's own origin; none may follow a redirect off it.
    const callerHeaders = {
      authorization: 'Bearer caller-token',
      'x-api-key': 'caller-key',
      cookie: 'session=caller-cookie',
      'proxy-authorization': 'Basic caller-proxy',
      'x-request-id': 'r-1',
    };

    // Factus: a Bearer token; Factorial: a Bearer token beside its API-key header, and an API key.
    for (const { connection, credential } of [
      { connection: 'front', credential: 'authorization' },
      { connection: 'front-oauth', credential: 'authorization' },
      { connection: 'front-key', credential: 'x-api-key' },
    ]) {
      it(`sends no credential or caller cookie along a redirect that leaves the origin (${connection}: ${credential})`, async () => {
        for (const init of [{}, { headers: callerHeaders }]) {
          seen.length = 0;
          const response = await rig.keeper.fetch(connection, '/cross', init);
          assert.deepEqual(await response.json(), { where: 'other' });
          const atFront = seen.find((s) => s.server === 'front')!.headers;
          const atOther = seen.find((s) => s.server === 'other')!.headers;
          assert.ok(atFront[credential], `the connection's own origin gets its ${credential}`);
          assert.notEqual(atFront[credential], callerHeaders[credential as keyof typeof callerHeaders]);
          // The provider's API-key header stays home too, whichever credential the connection uses.
          const apiKeyHeader = connection === 'front' ? [] : ['x-api-key'];
          for (const header of new Set([
            credential,
            'authorization',
            'cookie',
            'proxy-authorization',
            ...apiKeyHeader,
          ])) {
            assert.equal(atOther[header], undefined, `${header} followed the redirect to another origin`);
          }
          if (init.headers) {
            assert.equal(atFront.cookie, callerHeaders.cookie, 'the caller’s cookie goes to its own origin');
            assert.equal(atOther['x-request-id'], 'r-1', 'other caller headers are kept');
          }
        }
      });
    }

    it('keeper.forward sends its own credential in place of the caller’s, in whatever letter case the caller wrote it', async () => {
      for (const { connection, credential } of [
        { connection: 'front-oauth', credential: 'authorization' },
        { connection: 'front-key', credential: 'x-api-key' },
      ]) {
        seen.length = 0;
        const answer = await rig.keeper.forward(connection, {
          method: 'GET',
          path: '/echo',
          headers: { AUTHORIZATION: 'Bearer caller-token', 'X-Api-Key': 'caller-key', 'X-Request-Id': 'r-1' },
        });
        answer.resume();
        assert.equal(answer.statusCode, 200);
        const sent = seen.find((s) => s.path === '/echo')!;
        const expected = credential === 'authorization' ? 'Bearer front-bearer' : API_KEY;
        assert.equal(sent.headers[credential], expected, `${connection}: its own ${credential}`);
        // The provider's API-key header is a credential too: never the caller's.
        assert.equal(sent.headers['x-api-key'], credential === 'x-api-key' ? API_KEY : undefined);
        if (credential !== 'authorization') assert.equal(sent.headers.authorization, undefined);
        assert.equal(sent.headers['x-request-id'], 'r-1', 'other headers go as they came');
        const rawNames = sent.rawHeaders
          .filter((_, index) => index % 2 === 0)
          .map((name) => name.toLowerCase());
        assert.equal(
          rawNames.filter((name) => name === credential).length,
          1,
          'one credential header, not two',
        );
      }
    });

    it('keeps it on a same-origin redirect, and turns a 303 into a GET', async () => {
      assert.deepEqual(await (await rig.keeper.fetch('front', '/same')).json(), { authorization: 'present' });
      seen.length = 0;
      const response = await rig.keeper.fetch('front', '/see-other', { method: 'POST', body: '{}' });
      assert.deepEqual(await response.json(), { authorization: 'present' });
      assert.deepEqual(
        seen.map((s) => s.method),
        ['POST', 'GET'],
      );
    });

    it('stops a redirect loop', async () => {
      await assert.rejects(rig.keeper.fetch('front', '/loop'), /Stopped after 5 redirects/);
    });

    it('retries a 401 exactly once, then returns it', async () => {
      await rig.clock.advance(2_000); // past the minimum refresh interval: a 401 is worth one renewal
      seen.length = 0;
      const response = await rig.keeper.fetch('front', '/always-401');
      assert.equal(response.status, 401);
      await response.arrayBuffer();
      assert.equal(seen.filter((s) => s.path === '/always-401').length, 2);
      assert.equal(seen.filter((s) => s.path === '/oauth/token').length, 1, 'one forced refresh');
    });

    it('refuses to send credentials to another origin given as an absolute URL', async () => {
      await assert.rejects(
        rig.keeper.fetch('front', `${otherUrl}/x`),
        /Refusing to send this connection's credentials/,
      );
    });

    it("hands the caller's own abort back as it is, and does not send the request again", async () => {
      seen.length = 0;
      const controller = new AbortController();
      const pending = rig.keeper.fetch('front', '/hang', { signal: controller.signal });
      for (let i = 0; i < 200 && !seen.some((s) => s.path === '/hang'); i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      controller.abort();
      await assert.rejects(pending, (error: Error) => {
        assert.equal(error.name, 'AbortError', 'not turned into a network failure');
        return true;
      });
      assert.equal(seen.filter((s) => s.path === '/hang').length, 1);
    });

    it('waits out a 429 for as long as Retry-After says, then succeeds', async () => {
      seen.length = 0;
      const response = await rig.keeper.fetch('front', '/limited');
      assert.equal(response.status, 200);
      await response.arrayBuffer();
      assert.equal(seen.filter((s) => s.path === '/limited').length, 2);
    });
  });
});

function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Server> {
  return new Promise((resolve) => {
    const server = createServer(handler);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

function urlOf(server: Server): string {
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.ok(condition(), 'the condition never came true');
}

/** Moves the pacing clock on until `pending` settles: each wait for a slot is let through. */
async function settleWhileAdvancing<T>(pending: Promise<T>, pacing: FakeClock): Promise<T> {
  let settled = false;
  const watched = pending.finally(() => {
    settled = true;
  });
  for (let i = 0; i < 200 && !settled; i++) {
    await pacing.advance(1_100);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return watched;
}
