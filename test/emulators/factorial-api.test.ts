import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { FakeClock } from '../../src/clock.js';
import {
  type FactorialEmulatorOptions,
  type FactorialRunningEmulator,
  startFactorialEmulator,
} from '../../src/emulators/factorial/factorial-emulator.js';
import { type JsonReply, readJson } from './helpers.js';

const CALLBACK = 'http://127.0.0.1:8765/callback';
const START = Date.UTC(2026, 0, 1, 12, 0, 0);
const EMPLOYEES = '/api/2026-07-01/resources/employees/employees';
const CREDENTIALS = '/api/2026-07-01/resources/api_public/credentials';

const running: FactorialRunningEmulator[] = [];
after(() => Promise.all(running.map((emulator) => emulator.stop())));

async function start(options: FactorialEmulatorOptions = {}) {
  const clock = new FakeClock(START);
  const emulator = await startFactorialEmulator({ now: () => clock.now(), ...options });
  running.push(emulator);
  return { emulator, clock };
}

interface Tokens {
  access_token: string;
  refresh_token: string;
}

/** Auto consent, then the code exchange. */
async function login(
  emulator: FactorialRunningEmulator,
  params: Record<string, string> = {},
): Promise<Tokens> {
  const url = new URL(emulator.authorizeUrl);
  url.search = new URLSearchParams({
    client_id: emulator.credentials.clientId,
    redirect_uri: CALLBACK,
    response_type: 'code',
    ...params,
  }).toString();
  const redirect = await fetch(url, { redirect: 'manual' });
  const code = new URL(redirect.headers.get('location') ?? '').searchParams.get('code') ?? '';
  const reply = await fetch(emulator.tokenUrl, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      client_id: emulator.credentials.clientId,
      client_secret: emulator.credentials.clientSecret,
      code,
      redirect_uri: CALLBACK,
    }),
  });
  assert.equal(reply.status, 200);
  return (await reply.json()) as Tokens;
}

type Auth = { bearer?: string; apiKey?: string };

async function call<T = Record<string, unknown>>(
  emulator: FactorialRunningEmulator,
  path: string,
  auth: Auth,
  init: { method?: string; json?: unknown; body?: string; contentType?: string } = {},
): Promise<JsonReply<T>> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (auth.bearer !== undefined) headers.authorization = `Bearer ${auth.bearer}`;
  if (auth.apiKey !== undefined) headers['x-api-key'] = auth.apiKey;
  let body = init.body;
  if (init.json !== undefined) body = JSON.stringify(init.json);
  if (body !== undefined) headers['content-type'] = init.contentType ?? 'application/json';
  return readJson<T>(await fetch(`${emulator.url}${path}`, { method: init.method ?? 'GET', headers, body }));
}

interface Page {
  data: Array<Record<string, unknown>>;
  meta: {
    has_next_page: boolean;
    has_previous_page: boolean;
    start_cursor: string | null;
    end_cursor: string | null;
    total: number;
    limit: number;
  };
}

const newEmployee = (n: number) => ({
  first_name: 'Grace',
  last_name: `Tester ${n}`,
  email: `grace.${n}@example.com`,
});

describe('Factorial API authentication', () => {
  test('GET /api/v1/me with a Bearer token', async () => {
    const { emulator } = await start();
    const { access_token } = await login(emulator);
    const reply = await call(emulator, '/api/v1/me', { bearer: access_token });
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.body, {
      email: 'demo@factorial.example',
      full_name: 'Ada Lovelace',
      first_name: 'Ada',
      last_name: 'Lovelace',
      employee_id: 1,
      role: 'admin',
    });
  });

  test('x-api-key wins over Authorization when both are sent, in both directions', async () => {
    const { emulator } = await start();
    const { access_token } = await login(emulator);
    const keyWins = await call<Page>(emulator, CREDENTIALS, {
      bearer: 'not-a-token',
      apiKey: emulator.credentials.apiKey,
    });
    assert.equal(keyWins.status, 200);
    assert.equal(keyWins.body.data[0]?.employee_id, null, 'answered for the API key, not the user');

    const badKey = await call(emulator, '/api/v1/me', { bearer: access_token, apiKey: 'wrong-key' });
    assert.equal(badKey.status, 401);
    assert.deepEqual(badKey.body, { error: 'invalid_token', error_description: 'The API key is invalid' });
    assert.equal(emulator.stats().unauthorized, 1);
  });

  test('an API key never expires and has read and write access', async () => {
    const { emulator, clock } = await start();
    await clock.advance(365 * 24 * 3600 * 1000);
    const apiKey = emulator.credentials.apiKey;
    assert.equal((await call(emulator, EMPLOYEES, { apiKey })).status, 200);
    assert.equal(
      (await call(emulator, EMPLOYEES, { apiKey }, { method: 'POST', json: newEmployee(1) })).status,
      201,
    );
  });

  test('an expired token: 401 invalid_token with Doorkeeper’s WWW-Authenticate', async () => {
    const { emulator, clock } = await start();
    const { access_token } = await login(emulator);
    await clock.advance(7200 * 1000 - 1);
    assert.equal((await call(emulator, '/api/v1/me', { bearer: access_token })).status, 200);
    await clock.advance(1);
    const expired = await call(emulator, '/api/v1/me', { bearer: access_token });
    assert.equal(expired.status, 401);
    assert.deepEqual(expired.body, { error: 'invalid_token', error_description: 'The access token expired' });
    assert.equal(
      expired.headers.get('www-authenticate'),
      'Bearer realm="Doorkeeper", error="invalid_token", error_description="The access token expired"',
    );
  });

  test('unknown, missing and malformed tokens: "The access token is invalid"', async () => {
    const { emulator } = await start();
    const challenge =
      'Bearer realm="Doorkeeper", error="invalid_token", error_description="The access token is invalid"';
    const variants: Array<Record<string, string>> = [
      { authorization: 'Bearer 0123' },
      {},
      { authorization: 'Token abc' },
    ];
    for (const headers of variants) {
      const reply = await readJson(await fetch(`${emulator.url}/api/v1/me`, { headers }));
      assert.equal(reply.status, 401);
      assert.equal(reply.headers.get('www-authenticate'), challenge);
      assert.equal(reply.body.error, 'invalid_token');
    }
    assert.equal(emulator.stats().unauthorized, 3);
  });

  test('a read-only token gets 403 insufficient_scope on writes; a write-only token on reads', async () => {
    const { emulator } = await start();
    const read = await login(emulator, { scope: 'read' });
    assert.equal((await call(emulator, EMPLOYEES, { bearer: read.access_token })).status, 200);
    const refused = await call(
      emulator,
      EMPLOYEES,
      { bearer: read.access_token },
      { method: 'POST', json: newEmployee(2) },
    );
    assert.equal(refused.status, 403);
    assert.deepEqual(refused.body, {
      error: 'insufficient_scope',
      error_description: 'Access to this resource requires scope "write".',
    });
    assert.equal(
      refused.headers.get('www-authenticate'),
      'Bearer realm="Doorkeeper", error="insufficient_scope", error_description="Access to this resource requires scope \\"write\\"."',
    );
    const legacy = await call(
      emulator,
      '/api/v1/employees',
      { bearer: read.access_token },
      { method: 'POST', json: newEmployee(3) },
    );
    assert.equal(legacy.status, 403);

    const write = await login(emulator, { scope: 'write' });
    assert.equal((await call(emulator, EMPLOYEES, { bearer: write.access_token })).status, 403);
    assert.equal(
      (
        await call(
          emulator,
          EMPLOYEES,
          { bearer: write.access_token },
          { method: 'POST', json: newEmployee(4) },
        )
      ).status,
      201,
    );
    // Who-am-I answers any valid credential.
    assert.equal((await call(emulator, '/api/v1/me', { bearer: write.access_token })).status, 200);
    assert.equal((await call(emulator, CREDENTIALS, { bearer: read.access_token })).status, 200);
  });

  test('credentials: who owns a user token, a company token and the API key', async () => {
    const { emulator } = await start();
    const user = await login(emulator, { scope: 'read' });
    const userReply = await call<Page>(emulator, CREDENTIALS, { bearer: user.access_token });
    assert.equal(userReply.status, 200);
    assert.deepEqual(userReply.body.data, [
      {
        id: 1,
        company_id: 1,
        employee_id: 1,
        email: 'demo@factorial.example',
        login_email: 'demo@factorial.example',
        full_name: 'Ada Lovelace',
        first_name: 'Ada',
        last_name: 'Lovelace',
        role: 'admin',
      },
    ]);
    assert.deepEqual(userReply.body.meta, {
      has_next_page: false,
      has_previous_page: false,
      start_cursor: 'MQ',
      end_cursor: 'MQ',
      total: 1,
      limit: 100,
    });

    const company = await login(emulator, { resource_owner_type: 'company' });
    const companyReply = await call<Page>(emulator, '/api/v2/resources/api_public/credentials', {
      bearer: company.access_token,
    });
    const companyOwner = {
      company_id: 1,
      employee_id: null,
      name: 'Integrations - Factorial Emulator',
      legal_name: 'Factorial Emulator S.L.',
      tin: 'B00000000',
    };
    assert.deepEqual(companyReply.body.data, [{ id: 1, ...companyOwner }]);

    const keyReply = await call<Page>(emulator, CREDENTIALS, { apiKey: emulator.credentials.apiKey });
    assert.deepEqual(keyReply.body.data, [{ id: 1, ...companyOwner }]);
  });
});

describe('Factorial API resources', () => {
  test('versions: v2 and dated versions serve the resources; anything else is 404 before authentication', async () => {
    const { emulator } = await start();
    const apiKey = emulator.credentials.apiKey;
    for (const version of ['v2', '2026-07-01', '2024-10-01']) {
      const reply = await call<Page>(emulator, `/api/${version}/resources/employees/employees?limit=1`, {
        apiKey,
      });
      assert.equal(reply.status, 200, version);
    }
    for (const version of ['v1', 'v3', '2026-7-1', 'latest']) {
      const reply = await call(emulator, `/api/${version}/resources/employees/employees`, {});
      assert.equal(reply.status, 404, version);
    }
    assert.equal(emulator.stats().unauthorized, 0);
  });

  test('cursor pagination walks all 250 seeded employees forwards and backwards', async () => {
    const { emulator } = await start();
    const { access_token } = await login(emulator);
    const page = async (query: string) => {
      const reply = await call<Page>(emulator, `${EMPLOYEES}${query}`, { bearer: access_token });
      assert.equal(reply.status, 200);
      return reply.body;
    };

    const forward: number[] = [];
    const metas: Page['meta'][] = [];
    let query = '';
    for (;;) {
      const current = await page(query);
      forward.push(...current.data.map((employee) => employee.id as number));
      metas.push(current.meta);
      if (!current.meta.has_next_page) break;
      query = `?after_id=${encodeURIComponent(current.meta.end_cursor!)}`;
    }
    assert.deepEqual(
      forward,
      Array.from({ length: 250 }, (_, index) => index + 1),
    );
    assert.deepEqual(
      metas.map((meta) => [meta.has_previous_page, meta.has_next_page, meta.total, meta.limit]),
      [
        [false, true, 250, 100],
        [true, true, 250, 100],
        [true, false, 250, 100],
      ],
    );

    const backward: number[] = [];
    let cursor = metas[2]!.start_cursor!;
    backward.unshift(
      ...(await page(`?after_id=${encodeURIComponent(metas[1]!.end_cursor!)}`)).data.map(
        (e) => e.id as number,
      ),
    );
    for (;;) {
      const current = await page(`?before_id=${encodeURIComponent(cursor)}&limit=60`);
      backward.unshift(...current.data.map((employee) => employee.id as number));
      if (!current.meta.has_previous_page) break;
      cursor = current.meta.start_cursor!;
    }
    assert.deepEqual(backward, forward);

    const small = await page('?limit=7');
    assert.equal(small.data.length, 7);
    assert.equal(small.meta.limit, 7);
    const clamped = await page('?limit=500');
    assert.equal(clamped.data.length, 100);
    assert.equal(clamped.meta.limit, 100);
    const past = await page(`?after_id=${metas[2]!.end_cursor}`);
    assert.deepEqual(past.data, []);
    assert.equal(past.meta.has_next_page, false);
    assert.equal(past.meta.has_previous_page, true);
    assert.equal(past.meta.start_cursor, null);

    const first = (await page('?limit=1')).data[0]!;
    assert.deepEqual(Object.keys(first).slice(0, 6), [
      'id',
      'access_id',
      'first_name',
      'last_name',
      'full_name',
      'preferred_name',
    ]);
    assert.equal(first.email, 'demo@factorial.example');
    assert.equal(first.company_id, 1);

    for (const bad of ['?limit=0', '?limit=ten', '?after_id=not-a-cursor', '?before_id=MDA3']) {
      const reply = await call(emulator, `${EMPLOYEES}${bad}`, { bearer: access_token });
      assert.equal(reply.status, 400, bad);
      assert.equal(typeof reply.body.message, 'string');
    }
  });

  test('POST validates the JSON body: 422 {"errors":{…}}, 400 for broken JSON, 201 with the new employee', async () => {
    const { emulator, clock } = await start();
    const auth = { bearer: (await login(emulator)).access_token };
    const post = (json: unknown) => call(emulator, EMPLOYEES, auth, { method: 'POST', json });

    const empty = await post({});
    assert.equal(empty.status, 422);
    assert.deepEqual(empty.body, {
      errors: { first_name: ["can't be blank"], last_name: ["can't be blank"], email: ["can't be blank"] },
    });
    const invalid = await post({
      first_name: 'A',
      last_name: 'B',
      email: 'nope',
      birthday_on: '2001-02-30',
      manager_id: 9999,
    });
    assert.deepEqual(invalid.body, {
      errors: { email: ['is invalid'], birthday_on: ['is not a valid date'], manager_id: ['must exist'] },
    });
    const taken = await post({ first_name: 'A', last_name: 'B', email: 'DEMO@factorial.example' });
    assert.deepEqual(taken.body, { errors: { email: ['has already been taken'] } });
    assert.deepEqual((await post([1, 2])).body, {
      errors: { first_name: ["can't be blank"], last_name: ["can't be blank"], email: ["can't be blank"] },
    });
    const broken = await call(emulator, EMPLOYEES, auth, { method: 'POST', body: '{"first_name":' });
    assert.equal(broken.status, 400);

    await clock.advance(5000);
    const created = await post({ ...newEmployee(9), birthday_on: '1990-05-17', manager_id: 1 });
    assert.equal(created.status, 201);
    assert.equal(created.body.id, 251);
    assert.equal(created.body.full_name, 'Grace Tester 9');
    assert.equal(created.body.manager_id, 1);
    assert.equal(created.body.created_at, new Date(START + 5000).toISOString());

    const last = await call<Page>(
      emulator,
      `${EMPLOYEES}?after_id=${Buffer.from('250').toString('base64url')}`,
      auth,
    );
    assert.deepEqual(
      last.body.data.map((employee) => employee.id),
      [251],
    );
    assert.equal(last.body.meta.total, 251);
    assert.equal((await call(emulator, `${EMPLOYEES}/251`, auth)).body.email, 'grace.9@example.com');
    assert.equal((await call(emulator, `${EMPLOYEES}/9999`, auth)).status, 404);

    const form = await call(emulator, EMPLOYEES, auth, {
      method: 'POST',
      body: new URLSearchParams(newEmployee(10)).toString(),
      contentType: 'application/x-www-form-urlencoded',
    });
    assert.equal(form.status, 201);
  });

  test('legacy v1: plain arrays and objects', async () => {
    const { emulator } = await start();
    const auth = { bearer: (await login(emulator)).access_token };
    const list = await call<Array<Record<string, unknown>>>(emulator, '/api/v1/employees', auth);
    assert.equal(list.status, 200);
    assert.ok(Array.isArray(list.body));
    assert.equal(list.body.length, 250);
    assert.deepEqual(Object.keys(list.body[0]!), [
      'id',
      'access_id',
      'first_name',
      'last_name',
      'full_name',
      'email',
      'birthday_on',
      'gender',
      'role',
      'manager_id',
      'timeoff_manager_id',
      'company_id',
      'terminated_on',
    ]);
    const created = await call(emulator, '/api/v1/employees', auth, {
      method: 'POST',
      json: newEmployee(11),
    });
    assert.equal(created.status, 201);
    assert.equal(created.body.role, 'basic');
    assert.equal((await call(emulator, '/api/v1/employees/251', auth)).body.full_name, 'Grace Tester 11');
    const invalid = await call(emulator, '/api/v1/employees', auth, {
      method: 'POST',
      json: { first_name: 'X' },
    });
    assert.equal(invalid.status, 422);
    assert.deepEqual(invalid.body, { errors: { last_name: ["can't be blank"], email: ["can't be blank"] } });
  });
});

describe('Factorial POST rate limits', () => {
  test('per token owner and version: 429 with Retry-After past the limit, GETs never limited', async () => {
    const { emulator, clock } = await start({ postLimitV1PerMinute: 3, postLimitV2PerMinute: 5 });
    const owner = await login(emulator);
    const sibling = await login(emulator);
    const auth = { bearer: owner.access_token };
    const postV1 = (bearer = owner.access_token) =>
      call(emulator, '/api/v1/employees', { bearer }, { method: 'POST', json: {} });

    for (let index = 0; index < 3; index += 1) {
      const reply = await postV1();
      assert.equal(reply.status, 422);
      assert.equal(reply.headers.get('x-ratelimit-limit'), '3');
      assert.equal(reply.headers.get('x-ratelimit-remaining'), String(2 - index));
    }
    await clock.advance(20_000);
    const refused = await postV1();
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get('retry-after'), '40');
    assert.match(refused.body.message as string, /3 POST requests per minute.*Retry in 40 seconds/);
    // Another token of the same user shares the bucket.
    assert.equal((await postV1(sibling.access_token)).status, 429);

    // GETs are not limited, on v1 either.
    for (let index = 0; index < 12; index += 1) {
      assert.equal((await call(emulator, '/api/v1/employees', auth)).status, 200);
      assert.equal((await call(emulator, `${EMPLOYEES}?limit=1`, auth)).status, 200);
    }

    // v2 and dated versions have their own, larger bucket, shared between them.
    const postV2 = (path: string) => call(emulator, path, auth, { method: 'POST', json: {} });
    for (let index = 0; index < 3; index += 1) {
      assert.equal((await postV2('/api/v2/resources/employees/employees')).status, 422);
    }
    for (let index = 0; index < 2; index += 1) assert.equal((await postV2(EMPLOYEES)).status, 422);
    const refusedV2 = await postV2(EMPLOYEES);
    assert.equal(refusedV2.status, 429);
    assert.equal(refusedV2.headers.get('x-ratelimit-limit'), '5');
    assert.ok(Number(refusedV2.headers.get('retry-after')) >= 1);

    // The API key is its own owner.
    const keyed = await call(
      emulator,
      '/api/v1/employees',
      { apiKey: emulator.credentials.apiKey },
      { method: 'POST', json: {} },
    );
    assert.equal(keyed.status, 422);

    await clock.advance(40_000);
    assert.equal((await postV1()).status, 422);
    assert.equal(emulator.stats().rateLimited, 3);
  });
});

describe('Factorial emulator stats', () => {
  test('GET /__emulator/stats counts everything; POST /__emulator/reset zeroes it and keeps tokens', async () => {
    const { emulator } = await start();
    const zero = {
      tokenRequests: { total: 0, authorization_code: 0, refresh_token: 0 },
      invalidGrant: 0,
      apiRequests: 0,
      unauthorized: 0,
      rateLimited: 0,
      authorizations: 0,
      revocations: 0,
      faults: { total: 0, token: 0, api: 0, authorize: 0, revoke: 0 },
    };
    assert.deepEqual((await readJson(await fetch(`${emulator.url}/__emulator/stats`))).body, zero);

    const tokens = await login(emulator);
    const refreshed = await readJson(
      await fetch(emulator.tokenUrl, {
        method: 'POST',
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          client_id: emulator.credentials.clientId,
          client_secret: emulator.credentials.clientSecret,
          refresh_token: tokens.refresh_token,
        }),
      }),
    );
    const again = await fetch(emulator.tokenUrl, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        client_id: emulator.credentials.clientId,
        client_secret: emulator.credentials.clientSecret,
        refresh_token: tokens.refresh_token,
      }),
    });
    assert.equal(again.status, 400);
    await call(emulator, '/api/v1/me', { bearer: refreshed.body.access_token as string });
    await call(emulator, '/api/v1/me', { bearer: tokens.access_token });
    const revoke = await fetch(emulator.revokeUrl, {
      method: 'POST',
      body: new URLSearchParams({
        client_id: emulator.credentials.clientId,
        client_secret: emulator.credentials.clientSecret,
        token: refreshed.body.refresh_token as string,
      }),
    });
    assert.equal(revoke.status, 200);

    const expected = {
      tokenRequests: { total: 3, authorization_code: 1, refresh_token: 2 },
      invalidGrant: 1,
      apiRequests: 2,
      unauthorized: 1,
      rateLimited: 0,
      authorizations: 1,
      revocations: 1,
      faults: { total: 0, token: 0, api: 0, authorize: 0, revoke: 0 },
    };
    const served = await readJson(await fetch(`${emulator.url}/__emulator/stats`));
    assert.equal(served.headers.get('cache-control'), 'no-store');
    assert.deepEqual(served.body, expected);
    assert.deepEqual(Object.keys(served.body), Object.keys(expected));
    assert.deepEqual(emulator.stats(), expected);

    const reset = await fetch(`${emulator.url}/__emulator/reset`, { method: 'POST' });
    assert.equal(reset.status, 204);
    assert.deepEqual(emulator.stats(), zero);
    const survivor = await login(emulator);
    assert.equal((await call(emulator, '/api/v1/me', { bearer: survivor.access_token })).status, 200);
    emulator.resetStats();
    assert.deepEqual(emulator.stats(), zero);
  });
});

describe('Factorial emulator options', () => {
  test('bad options are refused with a message that names them', async () => {
    const bad: Array<[FactorialEmulatorOptions, RegExp]> = [
      [{ port: -1 }, /port must be an integer/],
      [{ accessTtlSeconds: 0 }, /accessTtlSeconds must be a positive integer/],
      [{ postLimitV1PerMinute: 1.5 }, /postLimitV1PerMinute/],
      [{ rotation: 'sometimes' as never }, /rotation must be one of strict, grace, off/],
      [{ reusedCode: 'maybe' as never }, /reusedCode must be one of invalid_grant, same-token/],
      [{ consent: 'ask' as never }, /consent must be one of auto, form/],
      [{ redirectUris: [] }, /at least one redirect URI/],
      [{ redirectUris: ['/relative'] }, /absolute URI/],
    ];
    for (const [options, message] of bad) {
      await assert.rejects(startFactorialEmulator(options), message);
    }
  });
});
