/**
 * The daemon's HTTP endpoints over real HTTP: access control, the list, the token
 * endpoint on a store shared with another process, /healthz, and /metrics parsed.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { factusProfile } from '../../src/providers/factus.js';
import { MemoryTokenStore } from '../../src/store/memory-store.js';
import type { StoredConnection, TokenStore } from '../../src/store/types.js';
import { apiStatus } from '../helpers/factus.js';
import { parsePrometheusText } from './prometheus-text.js';
import { connectFactus, eventually, SECRET, startServeRig } from './serve-rig.js';

/** A memory store that can stop answering, as a store whose server went away does. */
class StoreThatCanHang extends MemoryTokenStore {
  down = false;
  override async get(name: string): Promise<StoredConnection | undefined> {
    if (this.down) return new Promise(() => undefined);
    return super.get(name);
  }
}

describe('tokenkeeper serve endpoints', () => {
  it('asks for the access secret on every endpoint but /healthz', async () => {
    const rig = await startServeRig();
    try {
      await connectFactus(rig, 'acme');
      const protectedRoutes: Array<[string, string]> = [
        ['GET', '/v1/connections'],
        ['GET', '/v1/connections/acme/token'],
        ['GET', '/proxy/acme/v1/bills'],
        ['POST', '/proxy/acme/v1/bills/validate'],
        ['DELETE', '/proxy/acme/v1/bills/destroy/reference/x'],
        ['GET', '/metrics'],
        ['GET', '/dashboard.js'],
        ['GET', '/dashboard.css'],
        ['GET', '/nowhere'],
      ];
      const before = rig.factus.stats().apiRequests;
      for (const [method, path] of protectedRoutes) {
        for (const authorization of [
          undefined,
          'Bearer wrong-secret-0123456789abcdef',
          SECRET,
          `Basic ${SECRET}`,
        ]) {
          const response = await fetch(`${rig.daemon.url}${path}`, {
            method,
            headers: authorization ? { authorization } : {},
          });
          const body = await response.text();
          assert.equal(response.status, 401, `${method} ${path} with ${authorization ?? 'nothing'}`);
          assert.ok(!body.includes('access_token'), 'no token without the secret');
        }
      }
      assert.equal(rig.factus.stats().apiRequests, before, 'nothing was proxied without the secret');
      // The dashboard sends a browser to sign in.
      const page = await fetch(`${rig.daemon.url}/`, { redirect: 'manual' });
      assert.equal(page.status, 303);
      assert.equal(page.headers.get('location'), '/login');

      const health = await fetch(`${rig.daemon.url}/healthz`);
      assert.equal(health.status, 200);
      assert.deepEqual(await health.json(), { status: 'ok' });
      assert.equal((await rig.call('/v1/connections')).status, 200);
    } finally {
      await rig.close();
    }
  });

  it('lists connections without secrets and hands out a fresh token', async () => {
    const rig = await startServeRig();
    try {
      await connectFactus(rig, 'acme');
      await rig.daemon.keepAlive.sync();
      const listed = await rig.call('/v1/connections');
      const text = await listed.text();
      const { connections } = JSON.parse(text) as { connections: Array<Record<string, unknown>> };
      assert.equal(connections.length, 1);
      const [acme] = connections;
      assert.deepEqual(Object.keys(acme ?? {}).sort(), [
        'expiresAt',
        'lastErrorCode',
        'lastRefreshAt',
        'name',
        'provider',
        'state',
      ]);
      assert.equal(acme?.name, 'acme');
      assert.equal(acme?.provider, 'factus');
      assert.equal(acme?.state, 'ok');
      assert.ok(Date.parse(String(acme?.expiresAt)) > rig.clock.now());
      assert.equal(acme?.lastErrorCode, null);
      const { clientSecret, password } = rig.factus.credentials;
      const cliToken = await rig.cli.getAccessToken('acme');
      for (const secret of [clientSecret, password, cliToken])
        assert.ok(!text.includes(secret), 'no secret in the list');

      const response = await rig.call('/v1/connections/acme/token');
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('cache-control'), 'no-store');
      const token = (await response.json()) as Record<string, string>;
      assert.deepEqual(Object.keys(token).sort(), ['access_token', 'expires_at', 'token_type']);
      assert.equal(token.token_type, 'Bearer');
      assert.match(token.expires_at ?? '', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      // The provider accepts it.
      const bills = await fetch(`${rig.factus.url}/v1/bills`, {
        headers: { authorization: `Bearer ${token.access_token}` },
      });
      assert.equal(bills.status, 200);

      const missing = await rig.call('/v1/connections/nosuch/token');
      assert.equal(missing.status, 404);
      const error = (await missing.json()) as { error: { code: string; message: string } };
      assert.equal(error.error.code, 'NOT_FOUND');
      assert.match(error.error.message, /tokenkeeper login nosuch/);
    } finally {
      await rig.close();
    }
  });

  it('hands out an API key as the documented ApiKey type with no expiry, which the provider takes in its own header', async () => {
    const rig = await startServeRig();
    try {
      await rig.cli.connect('key', {
        provider: 'factorial',
        baseUrl: rig.factorial.url,
        grant: 'api_key',
        apiKey: rig.factorial.credentials.apiKey,
      });
      const response = await rig.call('/v1/connections/key/token');
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), {
        access_token: rig.factorial.credentials.apiKey,
        token_type: 'ApiKey',
        expires_at: null,
      });
      const employees = `${rig.factorial.url}/api/v1/employees`;
      const inItsHeader = await fetch(employees, {
        headers: { 'x-api-key': rig.factorial.credentials.apiKey },
      });
      assert.equal(inItsHeader.status, 200);
      const asBearer = await fetch(employees, {
        headers: { authorization: `Bearer ${rig.factorial.credentials.apiKey}` },
      });
      assert.equal(asBearer.status, 401, 'an API key is not a Bearer token');
    } finally {
      await rig.close();
    }
  });

  it('answers a known path asked with the wrong method 405, naming the methods it takes', async () => {
    const rig = await startServeRig();
    try {
      await connectFactus(rig, 'acme');
      for (const [path, method, allow] of [
        ['/v1/connections/acme/token', 'DELETE', 'GET'],
        ['/v1/connections', 'POST', 'GET, HEAD'],
        ['/metrics', 'PUT', 'GET, HEAD'],
        ['/', 'DELETE', 'GET, HEAD'],
        ['/dashboard.js', 'POST', 'GET, HEAD'],
        ['/login', 'DELETE', 'GET, POST'],
      ] as const) {
        const response = await rig.call(path, { method });
        assert.equal(response.status, 405, `${method} ${path}`);
        assert.equal(response.headers.get('allow'), allow, `${method} ${path}`);
        const { error } = (await response.json()) as { error: { code: string; message: string } };
        assert.equal(error.code, 'USAGE');
        assert.match(error.message, new RegExp(`not ${method}`));
      }
      // /healthz needs no secret, so neither does its 405.
      const health = await fetch(`${rig.daemon.url}/healthz`, { method: 'POST' });
      assert.equal(health.status, 405);
      assert.equal(health.headers.get('allow'), 'GET, HEAD');
      await health.body?.cancel();
      // The secret is still checked first elsewhere: a wrong method says nothing without it.
      const anonymous = await fetch(`${rig.daemon.url}/v1/connections`, { method: 'POST' });
      assert.equal(anonymous.status, 401);
      await anonymous.body?.cancel();
      assert.equal((await rig.call('/v1/nothing', { method: 'DELETE' })).status, 404);

      // HEAD is answered as GET is, without the body.
      for (const path of ['/v1/connections', '/metrics', '/', '/dashboard.css']) {
        const get = await rig.call(path);
        await get.arrayBuffer();
        const head = await rig.call(path, { method: 'HEAD' });
        assert.equal(head.status, 200, `HEAD ${path}`);
        assert.equal(head.headers.get('content-type'), get.headers.get('content-type'), `HEAD ${path}`);
        assert.equal((await head.arrayBuffer()).byteLength, 0, `HEAD ${path}`);
      }
    } finally {
      await rig.close();
    }
  });

  it('hands out what another process on the store refreshed, and sees logins and logouts', async () => {
    const rig = await startServeRig({ factus: { rotation: 'strict' } });
    try {
      await connectFactus(rig, 'acme');
      const tokenOf = async () =>
        ((await (await rig.call('/v1/connections/acme/token')).json()) as { access_token?: string })
          .access_token;
      const first = await tokenOf();
      // The other process refreshes: strict rotation revokes the token the daemon held.
      await rig.cli.refresh('acme');
      const rotated = await rig.cli.getAccessToken('acme');
      assert.notEqual(rotated, first);
      await eventually(async () => (await tokenOf()) === rotated, 'the daemon hands out the rotated token');

      await connectFactus(rig, 'added-later');
      await eventually(
        () => rig.daemon.keepAlive.get('added-later') !== undefined,
        'a new connection is picked up',
      );
      await rig.cli.forget('acme');
      await eventually(
        () => rig.daemon.keepAlive.get('acme') === undefined,
        'a removed connection is dropped',
      );
      assert.equal((await rig.call('/v1/connections/acme/token')).status, 404);
    } finally {
      await rig.close();
    }
  });

  it('answers /token during its own keep-alive refresh with the new token, not the one it revokes', async () => {
    // 10-minute tokens refreshed every minute: the held token still looks fresh while the
    // daemon spends its refresh token, and strict rotation revokes it as it does.
    const rig = await startServeRig({
      factus: { rotation: 'strict', accessTtlSeconds: 600 },
      daemon: { keepaliveMs: 60_000 },
    });
    try {
      await connectFactus(rig, 'acme');
      await rig.daemon.keepAlive.sync();
      const tokenOf = async () => {
        const response = await rig.call('/v1/connections/acme/token');
        assert.equal(response.status, 200);
        return ((await response.json()) as { access_token: string }).access_token;
      };
      const held = await tokenOf();
      rig.factus.faults.add({ point: 'token', delayMs: 500, count: 1 });
      await rig.clock.advance(70_000);
      await eventually(
        () => (rig.factus.stats().faults.token ?? 0) >= 1,
        'the keep-alive refresh reached the provider',
      );

      const answered = await tokenOf();
      assert.notEqual(answered, held, 'the token the refresh in flight replaces was handed out');
      await rig.daemon.keepAlive.whenIdle();
      assert.equal(rig.factus.stats().tokenRequests.refresh_token, 1, 'the caller shared the refresh');
      assert.equal(await apiStatus(rig.factus, held), 401, 'the refresh revoked the held token');
      assert.equal(await apiStatus(rig.factus, answered), 200);
    } finally {
      await rig.close();
    }
  });

  it('logs every 500 it answers, without the query or a secret', async () => {
    const logged: string[] = [];
    const rig = await startServeRig({ daemon: { log: (line) => logged.push(line) } });
    try {
      await connectFactus(rig, 'acme');
      const row = await rig.store.get('acme');
      assert.ok(row);
      // A clear field changed without the key: the row no longer matches its sealed copy.
      await rig.store.put(
        'acme',
        { ...row.meta, tokenUrl: 'http://127.0.0.1:1/steal' },
        row.sealed,
        row.version,
      );
      rig.daemon.keeper.release('acme');
      const response = await rig.call('/v1/connections/acme/token?secret=in-the-query');
      assert.equal(response.status, 500);
      const { error } = (await response.json()) as { error: { code: string } };
      assert.equal(error.code, 'STORE_TAMPERED');
      assert.equal(logged.length, 1, logged.join('\n'));
      assert.match(
        logged[0] ?? '',
        /^tokenkeeper serve: GET \/v1\/connections\/acme\/token failed with 500 \(STORE_TAMPERED: /,
      );
      const { clientSecret, password } = rig.factus.credentials;
      for (const secret of ['in-the-query', SECRET, clientSecret, password]) {
        assert.ok(!logged[0]?.includes(secret), 'no secret in the log');
      }
    } finally {
      await rig.close();
    }
  });

  it('/healthz answers 503 while the store does not answer', async () => {
    const store = new StoreThatCanHang();
    const rig = await startServeRig({ store });
    try {
      assert.equal((await fetch(`${rig.daemon.url}/healthz`)).status, 200);
      store.down = true;
      const down = await fetch(`${rig.daemon.url}/healthz`);
      assert.equal(down.status, 503);
      assert.equal(((await down.json()) as { status: string }).status, 'unavailable');
      store.down = false;
      assert.equal((await fetch(`${rig.daemon.url}/healthz`)).status, 200);
    } finally {
      store.down = false;
      await rig.close();
      await (store as TokenStore).close();
    }
  });

  it('/metrics is Prometheus text with the documented names', async () => {
    const rig = await startServeRig({ factus: { accessTtlSeconds: 600 } });
    try {
      await connectFactus(rig, 'acme');
      await rig.daemon.keepAlive.sync();
      await rig.advance(20 * 60_000, 60_000); // two refreshes by the daemon
      assert.equal((await rig.call('/proxy/acme/v1/bills')).status, 200);
      assert.equal((await rig.call('/proxy/acme/v1/bills/show/nosuch')).status, 404);
      for (const name of ['nosuch', 'other', 'third']) {
        assert.equal((await rig.call(`/proxy/${name}/v1/bills`)).status, 404);
      }

      const response = await rig.call('/metrics');
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      const metrics = parsePrometheusText(await response.text());
      const refreshes = metrics.value('tokenkeeper_refreshes_total', { provider: 'factus', result: 'ok' });
      assert.ok(refreshes !== undefined && refreshes >= 2, `refreshes_total ok: ${refreshes}`);
      assert.equal(metrics.value('tokenkeeper_connections', { provider: 'factus', state: 'ok' }), 1);
      const toExpiry = metrics.value('tokenkeeper_token_seconds_to_expiry', {});
      assert.ok(toExpiry !== undefined && toExpiry > 0 && toExpiry <= 600, `seconds to expiry: ${toExpiry}`);
      assert.ok((metrics.value('tokenkeeper_lock_wait_seconds_count', {}) ?? 0) >= 2);
      assert.equal(metrics.value('tokenkeeper_proxy_requests_total', { connection: 'acme', code: '200' }), 1);
      assert.equal(metrics.value('tokenkeeper_proxy_requests_total', { connection: 'acme', code: '404' }), 1);
      const unknown = metrics.samples.filter(
        (sample) => sample.name === 'tokenkeeper_proxy_requests_total' && sample.labels.connection !== 'acme',
      );
      assert.deepEqual(
        unknown.map((sample) => [sample.labels.connection, sample.labels.code, sample.value]),
        [['(unknown)', '404', 3]],
        'names the daemon does not know share one series',
      );
      assert.ok(metrics.types.get('tokenkeeper_webhook_deliveries_total') === 'counter');
      assert.equal(metrics.types.get('tokenkeeper_lock_wait_seconds'), 'histogram');
      assert.equal(metrics.value('tokenkeeper_rate_limit_wait_seconds_count', {}), 0, 'no request waited');
    } finally {
      await rig.close();
    }
  });

  it('/metrics counts each token request once, with its result', async () => {
    // A client-credentials token endpoint that can be told to fail.
    const tokenServer = { requests: 0, failing: false };
    const server = createServer((req, res) => {
      tokenServer.requests++;
      req.resume();
      if (tokenServer.failing) return void res.writeHead(503).end();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          access_token: `cc-${tokenServer.requests}`,
          token_type: 'Bearer',
          expires_in: 3600,
        }),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const tokenUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
    const rig = await startServeRig({ factus: { refreshTtlSeconds: 60 } });
    try {
      await rig.cli.connect('svc', {
        provider: 'oauth2',
        grant: 'client_credentials',
        tokenUrl,
        baseUrl: 'http://127.0.0.1:1',
        clientId: 'svc-client',
        clientSecret: 'svc-secret',
      });
      await connectFactus(rig, 'acme');
      const refreshes = async (provider: string) => {
        const metrics = parsePrometheusText(await (await rig.call('/metrics')).text());
        const count = (result: string) =>
          metrics.value('tokenkeeper_refreshes_total', { provider, result }) ?? 0;
        return { ok: count('ok'), failed: count('failed'), reauth: count('reauth_required') };
      };
      await rig.daemon.keepAlive.sync(); // the daemon knows each connection's provider
      const before = tokenServer.requests;

      await rig.daemon.keeper.refresh('svc');
      await rig.daemon.keeper.refresh('svc');
      tokenServer.failing = true;
      await assert.rejects(rig.daemon.keeper.refresh('svc'));
      assert.equal(tokenServer.requests - before, 3, 'three token requests');
      assert.deepEqual(await refreshes('oauth2'), { ok: 2, failed: 1, reauth: 0 });

      // Factus: the refresh token has lapsed (invalid_grant), and the saved password logs in again.
      await rig.clock.advance(120_000);
      rig.factus.resetStats();
      await rig.daemon.keeper.refresh('acme');
      const asked = rig.factus.stats().tokenRequests;
      assert.equal(asked.refresh_token, 1);
      assert.equal(asked.password, 1);
      assert.deepEqual(await refreshes('factus'), { ok: 1, failed: 1, reauth: 0 }, 'one each');
    } finally {
      await rig.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('/metrics counts proxied requests held back by the provider’s rate limit', async () => {
    // Two a second, so the third request in a row waits for a slot (real time, about half a second).
    const twoASecond = {
      ...factusProfile,
      rateLimits: [{ label: 'Factus (test)', limit: 2, windowMs: 1_000 }],
    };
    const rig = await startServeRig({ daemon: { keeper: { providers: [twoASecond] } } });
    try {
      await connectFactus(rig, 'acme');
      for (let i = 0; i < 3; i++) assert.equal((await rig.call('/proxy/acme/v1/bills')).status, 200);
      const metrics = parsePrometheusText(await (await rig.call('/metrics')).text());
      assert.equal(metrics.types.get('tokenkeeper_rate_limit_wait_seconds'), 'histogram');
      assert.equal(metrics.value('tokenkeeper_rate_limit_wait_seconds_count', {}), 1);
      const waited = metrics.value('tokenkeeper_rate_limit_wait_seconds_sum', {}) ?? 0;
      assert.ok(waited > 0.1 && waited < 1.1, `waited ${waited} s`);
    } finally {
      await rig.close();
    }
  });
});
