/**
 * The HTTP-client adapters against the emulators over loopback: each puts the credential
 * on its client's requests, renews once and retries on a 401 (with the body sent again),
 * leaves an API key's 401 alone, and never sends the credential to another origin.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import axios, { type AxiosError } from 'axios';
import ky, { type HTTPError } from 'ky';
import createClient from 'openapi-fetch';
import { request as undiciRequest } from 'undici';
import { useKeeper } from '../../src/adapters/axios.js';
import { keeperHooks } from '../../src/adapters/ky.js';
import { keeperMiddleware } from '../../src/adapters/openapi-fetch.js';
import { keeperDispatcher } from '../../src/adapters/undici.js';
import {
  type FactorialRunningEmulator,
  startFactorialEmulator,
} from '../../src/emulators/factorial/factorial-emulator.js';
import {
  type FactusRunningEmulator,
  startFactusEmulator,
} from '../../src/emulators/factus/factus-emulator.js';
import { createKeeper, type Keeper } from '../../src/keeper.js';
import { MemoryTokenStore } from '../../src/store/memory-store.js';
import { factusSpec } from '../helpers/factus.js';

const bill = (reference: string) => ({
  numbering_range_id: 8,
  reference_code: reference,
  customer: { identification: '123456789', names: 'Cliente', email: 'c@example.com' },
  items: [{ code_reference: 'A1', name: 'Item', quantity: 1, price: 1000, tax_rate: '19.00' }],
});

/** A server on another origin that answers with the headers it received. */
async function startEchoServer(): Promise<{ url: string; server: Server }> {
  const server = createServer((request, response) => {
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify(request.headers));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe('adapters with a Factus connection (Bearer, refreshable)', () => {
  let emulator: FactusRunningEmulator;
  let keeper: Keeper;
  let echo: { url: string; server: Server };

  before(async () => {
    emulator = await startFactusEmulator();
    keeper = createKeeper({ store: new MemoryTokenStore(), proactiveRefresh: false });
    await keeper.connect('acme', factusSpec(emulator));
    echo = await startEchoServer();
  });
  after(async () => {
    await keeper.close();
    await emulator.stop();
    echo.server.close();
  });

  const refreshes = () => emulator.stats().tokenRequests.refresh_token ?? 0;
  /** The API rejects the next `count` requests with 401, as it does a token it no longer accepts. */
  const rejectNext = (count: number) => emulator.faults.add({ point: 'api', status: 401, count });

  it('axios: the credential on every request; one renewal and retry after a 401, body included', async () => {
    const api = axios.create({ baseURL: emulator.url });
    useKeeper(api, keeper, 'acme');
    const ranges = await api.get('/v1/numbering-ranges');
    assert.equal(ranges.status, 200);

    const before = refreshes();
    rejectNext(1);
    const created = await api.post('/v1/bills/validate', bill('axios-1'));
    assert.equal(created.status, 201);
    assert.equal((created.data as { status: string }).status, 'Created');
    assert.equal(refreshes(), before + 1);
  });

  it('axios: a second 401 is the API’s answer: returned after one renewal, not retried again', async () => {
    const api = axios.create({ baseURL: emulator.url });
    useKeeper(api, keeper, 'acme');
    const before = refreshes();
    rejectNext(2);
    const error = (await api.get('/v1/numbering-ranges').catch((e: unknown) => e)) as AxiosError;
    assert.equal(error.response?.status, 401);
    assert.equal(refreshes(), before + 1);
    emulator.faults.clear();
  });

  it('axios: no credential for another origin; eject removes the interceptors', async () => {
    const api = axios.create({ baseURL: emulator.url });
    const eject = useKeeper(api, keeper, 'acme');
    const elsewhere = await api.get(`${echo.url}/anything`);
    assert.equal((elsewhere.data as Record<string, string>).authorization, undefined);
    eject();
    const error = (await api.get('/v1/numbering-ranges').catch((e: unknown) => e)) as AxiosError;
    assert.equal(error.response?.status, 401);
  });

  it('undici: request() and fetch() with the dispatcher carry the credential and renew on a 401', async () => {
    const dispatcher = keeperDispatcher(keeper, 'acme');
    try {
      const first = await undiciRequest(`${emulator.url}/v1/numbering-ranges`, { dispatcher });
      assert.equal(first.statusCode, 200);
      assert.equal(((await first.body.json()) as { status: string }).status, 'OK');

      const before = refreshes();
      rejectNext(1);
      const created = await undiciRequest(`${emulator.url}/v1/bills/validate`, {
        dispatcher,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(bill('undici-1')),
      });
      assert.equal(created.statusCode, 201);
      await created.body.text();
      assert.equal(refreshes(), before + 1);

      rejectNext(1);
      // Node's own fetch takes a dispatcher of the undici package (its types are a copy of another version).
      const fetched = await fetch(`${emulator.url}/v1/numbering-ranges`, {
        dispatcher,
      } as unknown as RequestInit);
      assert.equal(fetched.status, 200);
      assert.equal(((await fetched.json()) as { status: string }).status, 'OK');
      assert.equal(refreshes(), before + 2);

      // A streamed body cannot be sent twice: the 401 comes back, and nothing is renewed.
      rejectNext(1);
      const streamed = await undiciRequest(`${emulator.url}/v1/bills/validate`, {
        dispatcher,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: Readable.from([JSON.stringify(bill('undici-stream'))]),
      });
      assert.equal(streamed.statusCode, 401);
      await streamed.body.text();
      assert.equal(refreshes(), before + 2);

      const elsewhere = await undiciRequest(`${echo.url}/x`, { dispatcher });
      assert.equal(((await elsewhere.body.json()) as Record<string, string>).authorization, undefined);
    } finally {
      await dispatcher.close();
    }
  });

  it('ky: hooks put the credential on requests and renew once on a 401, body included', async () => {
    const api = ky.create({ prefixUrl: emulator.url, hooks: keeperHooks(keeper, 'acme'), retry: 0 });
    const ranges = await api.get('v1/numbering-ranges').json<{ status: string }>();
    assert.equal(ranges.status, 'OK');

    const before = refreshes();
    rejectNext(1);
    const created = await api.post('v1/bills/validate', { json: bill('ky-1') }).json<{ status: string }>();
    assert.equal(created.status, 'Created');
    assert.equal(refreshes(), before + 1);

    rejectNext(2);
    const error = (await api.get('v1/numbering-ranges').catch((e: unknown) => e)) as HTTPError;
    assert.equal(error.response.status, 401);
    assert.equal(refreshes(), before + 2);
    emulator.faults.clear();
  });

  it('openapi-fetch: the middleware puts the credential on requests and renews once on a 401', async () => {
    const client = createClient({ baseUrl: emulator.url });
    client.use(keeperMiddleware(keeper, 'acme'));
    const ranges = await client.GET('/v1/numbering-ranges' as never);
    assert.equal(ranges.response.status, 200);

    const before = refreshes();
    rejectNext(1);
    const created = await client.POST('/v1/bills/validate' as never, { body: bill('openapi-1') } as never);
    assert.equal(created.response.status, 201);
    assert.equal((created.data as unknown as { status: string }).status, 'Created');
    assert.equal(refreshes(), before + 1);
  });
});

describe('adapters with a Factorial API key (not refreshable)', () => {
  let emulator: FactorialRunningEmulator;
  let keeper: Keeper;

  before(async () => {
    emulator = await startFactorialEmulator();
    keeper = createKeeper({ store: new MemoryTokenStore(), proactiveRefresh: false });
    await keeper.connect('hr-key', {
      provider: 'factorial',
      baseUrl: emulator.url,
      grant: 'api_key',
      apiKey: emulator.credentials.apiKey,
    });
  });
  after(async () => {
    await keeper.close();
    await emulator.stop();
  });

  it('axios sends the key in its header, and a 401 comes back without any token request', async () => {
    const api = axios.create({ baseURL: emulator.url });
    useKeeper(api, keeper, 'hr-key');
    const me = await api.get('/api/2026-07-01/resources/api_public/credentials');
    assert.equal(me.status, 200);

    const tokenRequests = emulator.stats().tokenRequests.total;
    emulator.faults.add({ point: 'api', status: 401, count: 1 });
    const error = (await api.get('/api/v1/me').catch((e: unknown) => e)) as AxiosError;
    assert.equal(error.response?.status, 401);
    assert.equal(emulator.stats().tokenRequests.total, tokenRequests);
  });
});
