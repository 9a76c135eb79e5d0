/**
 * Canary secrets: a client secret, a password, an API key and every refresh token the
 * emulators issue are followed through each CLI command and each library path. None may
 * show up in output (but `token`'s stdout), events, errors, console logs, or in any
 * store's raw rows, in clear or encoded (base64, base64url, hex).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { inspect } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import {
  type FactorialRunningEmulator,
  startFactorialEmulator,
} from '../../src/emulators/factorial/factorial-emulator.js';
import {
  type FactusRunningEmulator,
  startFactusEmulator,
} from '../../src/emulators/factus/factus-emulator.js';
import {
  createAuthorizationRequest,
  readAuthorizationResponse,
} from '../../src/grants/authorization-code.js';
import { createKeeper, type Keeper } from '../../src/keeper.js';
import { loadSqliteDriver } from '../../src/store/sqlite-driver.js';
import { type CliSandbox, createCliSandbox, freePort, startBrowserLogin } from '../helpers/cli.js';
import {
  describeWithServer,
  PG_URL,
  probePostgres,
  probeRedis,
  REDIS_URL,
  uniqueName,
} from '../store/servers.js';

const TAG = randomBytes(6).toString('hex');
/** Factorial API keys are JWT-shaped (three base64url segments); the canary keeps that shape. */
const jwtShaped = (label: string) =>
  `${Buffer.from('{"alg":"HS256","typ":"JWT"}').toString('base64url')}.${Buffer.from(`{"canary":"${label}"}`).toString('base64url')}.${label}`;
const CANARIES = {
  clientSecret: `canary-client-secret-${TAG}`,
  password: `canary-password-${TAG}`,
  apiKey: jwtShaped(`canary-api-key-${TAG}`),
  wrongPassword: `canary-wrong-password-${TAG}`,
  wrongApiKey: jwtShaped(`canary-wrong-api-key-${TAG}`),
};
const EMPLOYEES = '/api/2026-07-01/resources/employees/employees';

/** What may sit in clear in a row's metadata: nothing that decides less than "where and who". */
const CLEAR_METADATA_KEYS = new Set([
  'provider',
  'environment',
  'baseUrl',
  'grant',
  'scope',
  'clientId',
  'issuer',
  'redirectUri',
  'state',
  'lastRefreshAt',
  'lastError',
  'createdAt',
  'tokenUrl',
  'authorizationUrl',
  'revocationUrl',
  'userinfoUrl',
  'clientAuthMethod',
  'expiresAt',
  'obtainedAt',
  'hasRefreshToken',
  // Bookkeeping of the refresh protocol: a random login id, and the shared back-off (code and message only).
  'generation',
  'backoff',
]);
/** `v1.<keyId>.<iv>.<tag>.<ciphertext>`, base64url parts: 6-byte key id, 12-byte IV, 16-byte tag. */
const SEALED = /^v1\.[A-Za-z0-9_-]{8}\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]+$/;

/** Every refresh token the emulators issued, as seen on the wire. */
const refreshTokens = new Set<string>();

function allSecrets(): Array<[string, string]> {
  return [
    ...Object.entries(CANARIES),
    ...[...refreshTokens].map((token, i): [string, string] => [`refresh token #${i + 1}`, token]),
  ];
}

/**
 * The forms a secret takes when encoded on its own or inside a longer value: clear, hex,
 * URL-encoded, and base64/base64url at each of the three byte alignments (only the groups
 * that hold nothing but the secret's bytes, so they match wherever it sits).
 */
function encodedForms(secret: string): string[] {
  const bytes = Buffer.from(secret);
  const forms = [
    secret,
    encodeURIComponent(secret),
    bytes.toString('hex'),
    bytes.toString('hex').toUpperCase(),
  ];
  for (const alphabet of ['base64', 'base64url'] as const) {
    for (let offset = 0; offset < 3; offset++) {
      const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString(alphabet);
      const start = offset === 0 ? 0 : 4;
      const end = Math.floor((offset + bytes.length) / 3) * 4;
      forms.push(encoded.slice(start, end));
    }
  }
  return forms;
}

function assertNoSecret(text: string, where: string): void {
  for (const [what, secret] of allSecrets()) {
    for (const form of encodedForms(secret)) {
      assert.equal(text.includes(form), false, `the ${what} appears in ${where} (as ${form.slice(0, 12)}…)`);
    }
  }
}

/** Asserts the shape of one stored connection and returns its text for the secret scan. */
function checkStoredConnection(where: string, meta: unknown, sealed: unknown): void {
  const parsed: unknown = typeof meta === 'string' ? JSON.parse(meta) : meta;
  assert.equal(typeof parsed, 'object', `${where}: meta is a JSON object`);
  const unexpected = Object.keys(parsed as object).filter((key) => !CLEAR_METADATA_KEYS.has(key));
  assert.deepEqual(unexpected, [], `${where}: metadata keys outside the clear whitelist`);
  assert.match(String(sealed), SEALED, `${where}: secrets are not in the sealed format`);
}

/**
 * A recording proxy in front of an emulator: the connection's base URL, so that every token
 * response passes through it and each refresh token issued is known.
 */
async function recordingProxy(target: string): Promise<{ url: string; server: Server }> {
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const upstream = await fetch(new URL(req.url ?? '/', target), {
      method: req.method ?? 'GET',
      headers: forwardable(req.headers),
      ...(chunks.length > 0 ? { body: Buffer.concat(chunks) } : {}),
      redirect: 'manual',
    });
    const body = Buffer.from(await upstream.arrayBuffer());
    try {
      const json = JSON.parse(body.toString('utf8')) as { refresh_token?: unknown };
      if (typeof json.refresh_token === 'string') refreshTokens.add(json.refresh_token);
    } catch {
      // not JSON: nothing to record
    }
    const headers: Record<string, string> = {};
    upstream.headers.forEach((value, name) => {
      if (!['content-length', 'content-encoding', 'transfer-encoding', 'connection'].includes(name)) {
        headers[name] = value;
      }
    });
    res.writeHead(upstream.status, headers).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

function forwardable(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || ['host', 'connection', 'content-length', 'keep-alive'].includes(name))
      continue;
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

let factus: FactusRunningEmulator;
let factorial: FactorialRunningEmulator;
let factusUrl: string;
let factorialUrl: string;
let redirectUri: string;
const servers: Server[] = [];

before(async () => {
  redirectUri = `http://127.0.0.1:${await freePort()}/callback`;
  factus = await startFactusEmulator({
    credentials: { clientSecret: CANARIES.clientSecret, password: CANARIES.password },
  });
  factorial = await startFactorialEmulator({
    credentials: { clientSecret: CANARIES.clientSecret, apiKey: CANARIES.apiKey },
    redirectUris: [redirectUri, 'urn:ietf:wg:oauth:2.0:oob'],
  });
  const proxies = await Promise.all([recordingProxy(factus.url), recordingProxy(factorial.url)]);
  [factusUrl, factorialUrl] = proxies.map((proxy) => proxy.url) as [string, string];
  servers.push(...proxies.map((proxy) => proxy.server));
});

after(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    server.close();
  }
  await factus.stop();
  await factorial.stop();
});

/** Revokes a connection's refresh token behind its back, so that its next refresh is refused. */
async function revokeLatestRefreshToken(): Promise<void> {
  const latest = [...refreshTokens].at(-1)!;
  const response = await fetch(`${factorial.url}/oauth/revoke`, {
    method: 'POST',
    body: new URLSearchParams({
      token: latest,
      client_id: factorial.credentials.clientId,
      client_secret: CANARIES.clientSecret,
    }),
  });
  assert.equal(response.status, 200);
  await response.arrayBuffer();
}

/** Every table of a SQLite file: each connection row's shape, then all rows and the files' bytes. */
async function checkSqliteAtRest(dir: string, file: string): Promise<void> {
  const Database = await loadSqliteDriver();
  const db = new Database(join(dir, file), { readonly: true, fileMustExist: true });
  try {
    const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as Array<{
      name: string;
    }>;
    let connections = 0;
    for (const { name: table } of tables) {
      const rows = db.prepare(`SELECT * FROM "${table.replace(/"/g, '""')}"`).all() as Array<
        Record<string, unknown>
      >;
      for (const row of rows) {
        if (table === 'connections') {
          connections++;
          checkStoredConnection(`SQLite row "${row.name}"`, row.meta, row.sealed);
        }
        assertNoSecret(JSON.stringify(row), `SQLite table ${table}`);
      }
    }
    assert.ok(connections > 0, 'sanity: the SQLite store holds connections');
  } finally {
    db.close();
  }
  // Freed pages and the WAL keep old rows: the bytes of every file must be clean too.
  for (const name of await readdir(dir)) {
    assertNoSecret((await readFile(join(dir, name))).toString('latin1'), `the file ${name}`);
  }
}

describe('canary secrets through the CLI', () => {
  let cli: CliSandbox;
  before(async () => {
    cli = await createCliSandbox({
      FACTUS_CLIENT_ID: factus.credentials.clientId,
      FACTUS_CLIENT_SECRET: CANARIES.clientSecret,
      FACTUS_USERNAME: factus.credentials.username,
      FACTUS_PASSWORD: CANARIES.password,
      FACTORIAL_CLIENT_ID: factorial.credentials.clientId,
      FACTORIAL_CLIENT_SECRET: CANARIES.clientSecret,
      FACTORIAL_API_KEY: CANARIES.apiKey,
    });
  });
  after(() => cli.cleanup());

  async function ok(args: string[]): Promise<void> {
    const result = await cli.run(args);
    assert.equal(result.code, 0, `tokenkeeper ${args.join(' ')}: ${result.stderr}`);
  }

  it('never prints a secret, and stores none in clear or encoded', async () => {
    await ok(['login', 'fx', '--provider', 'factus', '--base-url', factusUrl]);
    const factorialLogin = ['--provider', 'factorial', '--base-url', factorialUrl, '--no-browser'];
    const { login, url } = await startBrowserLogin(
      ['login', 'hr', ...factorialLogin, '--redirect-uri', redirectUri],
      cli.env,
    );
    const approval = await fetch(url, { redirect: 'manual' });
    await approval.arrayBuffer();
    const landing = await fetch(approval.headers.get('location')!);
    await landing.arrayBuffer();
    const loggedIn = await login.done;
    assert.equal(loggedIn.code, 0, loggedIn.stderr);
    const loginOutput = `${loggedIn.stdout}\n${loggedIn.stderr}`;
    await ok(['login', 'key', '--provider', 'factorial', '--base-url', factorialUrl, '--api-key']);

    for (const args of [
      ['status'],
      ['status', '--json'],
      ['token', 'fx'],
      ['token', 'key'],
      ['request', 'fx', 'GET', '/v1/numbering-ranges'],
      ['request', 'hr', 'GET', EMPLOYEES],
      ['request', 'key', 'GET', EMPLOYEES],
      ['whoami', 'hr'],
      ['whoami', 'key', '--json'],
      ['refresh', 'fx'],
      ['refresh', 'hr'],
    ]) {
      await ok(args);
    }
    // A key rotation: the key file replaced, the old key given as a previous one, rekey.
    const keyFile = join(cli.home, 'store', 'tokens.key');
    const oldKey = (await readFile(keyFile, 'utf8')).trim();
    await rename(keyFile, `${keyFile}.old`);
    await writeFile(keyFile, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
    for (const args of [['rekey'], ['rekey', '--json']]) {
      const rekey = await cli.run(args, { env: { TOKENKEEPER_PREVIOUS_KEYS: oldKey } });
      assert.equal(rekey.code, 0, `tokenkeeper ${args.join(' ')}: ${rekey.stderr}`);
    }
    await rm(`${keyFile}.old`);
    await checkSqliteAtRest(join(cli.home, 'store'), 'tokens.db');

    await revokeLatestRefreshToken();
    const refused = await cli.run(['refresh', 'hr']);
    assert.notEqual(refused.code, 0, 'a revoked refresh token is refused');
    assert.match(refused.stderr, /tokenkeeper login hr/);
    const wrong = await cli.run(['login', 'bad', '--provider', 'factus', '--base-url', factusUrl], {
      env: { FACTUS_PASSWORD: CANARIES.wrongPassword },
    });
    assert.notEqual(wrong.code, 0, 'a wrong password is refused');

    await ok(['logout', 'hr']);
    await ok(['logout', 'key']);
    await ok(['logout', 'fx', '--local-only']);

    assert.ok(refreshTokens.size >= 3, 'sanity: refresh tokens were issued and recorded');
    assertNoSecret(`${cli.transcript()}\n${loginOutput}`, 'CLI output');
  });
});

/** Everything a library user could log: events, errors (message, JSON, inspect) and console output. */
function recordOutputs(keeper: Keeper) {
  const texts: string[] = [];
  for (const event of ['token', 'refresh', 'adopt', 'refresh_failed', 'reauth_required'] as const) {
    keeper.on(event, (payload) => texts.push(JSON.stringify(payload), inspect(payload, { depth: null })));
  }
  const consoleMethods = ['log', 'info', 'warn', 'error', 'debug'] as const;
  const originals = consoleMethods.map((method) => console[method]);
  for (const method of consoleMethods) {
    console[method] = (...args: unknown[]) => texts.push(args.map((arg) => inspect(arg)).join(' '));
  }
  return {
    texts,
    error(error: unknown) {
      texts.push(String(error), JSON.stringify(error), inspect(error, { depth: null }));
      return error;
    },
    restore() {
      consoleMethods.forEach((method, i) => {
        console[method] = originals[i]!;
      });
    },
  };
}

/** The library's paths against one store, then the store's raw rows. */
async function libraryRun(store: string, key: string, checkAtRest: () => Promise<void>): Promise<void> {
  const keeper = createKeeper({ store, env: { TOKENKEEPER_KEY: key }, proactiveRefresh: false });
  const outputs = recordOutputs(keeper);
  try {
    await keeper.connect('fx', {
      provider: 'factus',
      baseUrl: factusUrl,
      clientId: factus.credentials.clientId,
      clientSecret: CANARIES.clientSecret,
      username: factus.credentials.username,
      password: CANARIES.password,
    });
    await keeper.connect('key', {
      provider: 'factorial',
      baseUrl: factorialUrl,
      grant: 'api_key',
      apiKey: CANARIES.apiKey,
    });
    await keeper.connect(
      'hr',
      {
        provider: 'factorial',
        baseUrl: factorialUrl,
        clientId: factorial.credentials.clientId,
        clientSecret: CANARIES.clientSecret,
      },
      {
        authorize: async ({ authorizationUrl, clientId, scope, pkce }) => {
          const request = await createAuthorizationRequest({
            authorizationUrl,
            clientId,
            redirectUri,
            ...(scope ? { scope } : {}),
            pkce,
          });
          const approval = await fetch(request.url, { redirect: 'manual' });
          await approval.arrayBuffer();
          const code = readAuthorizationResponse(request, approval.headers.get('location')!);
          return { code, redirectUri };
        },
      },
    );
    await keeper.getAccessToken('fx');
    for (const [name, path] of [
      ['fx', '/v1/numbering-ranges'],
      ['hr', EMPLOYEES],
      ['key', EMPLOYEES],
    ] as const) {
      const response = await keeper.fetch(name, path);
      assert.equal(response.status, 200, `${name} ${path}`);
      await response.arrayBuffer();
    }
    await keeper.refresh('fx');
    await keeper.refresh('hr');
    outputs.texts.push(
      JSON.stringify(await keeper.whoami('hr')),
      JSON.stringify(await keeper.list()),
      JSON.stringify(await keeper.rekey()),
    );
    await checkAtRest();

    await revokeLatestRefreshToken();
    await assert.rejects(keeper.refresh('hr'), (error) => Boolean(outputs.error(error)));
    await assert.rejects(
      keeper.connect('bad', {
        provider: 'factus',
        baseUrl: factusUrl,
        clientId: factus.credentials.clientId,
        clientSecret: CANARIES.clientSecret,
        username: factus.credentials.username,
        password: CANARIES.wrongPassword,
      }),
      (error) => Boolean(outputs.error(error)),
    );
    await assert.rejects(
      keeper.connect('bad-key', {
        provider: 'factorial',
        baseUrl: factorialUrl,
        grant: 'api_key',
        apiKey: CANARIES.wrongApiKey,
      }),
      (error) => Boolean(outputs.error(error)),
    );
    await keeper.logout('hr');
    await keeper.logout('fx');
    await keeper.forget('key');
  } finally {
    outputs.restore();
    await keeper.close();
  }
  assert.ok(outputs.texts.length > 5, 'sanity: events and errors were recorded');
  assertNoSecret(outputs.texts.join('\n'), 'library events, errors or logs');
}

const encryptionKey = randomBytes(32).toString('base64');

describe('canary secrets through the library', () => {
  it('with the SQLite store', async () => {
    const dir = join(tmpdir(), `tk-canary-${TAG}`);
    try {
      await libraryRun(join(dir, 'tokens.db'), encryptionKey, () => checkSqliteAtRest(dir, 'tokens.db'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describeWithServer('canary secrets in PostgreSQL', 'PostgreSQL', PG_URL, await probePostgres(), () => {
  it('with the PostgreSQL store', async () => {
    const schema = uniqueName('canary');
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    try {
      await libraryRun(`${PG_URL}?schema=${schema}`, encryptionKey, async () => {
        const tables = await client.query<{ table_name: string }>(
          'SELECT table_name FROM information_schema.tables WHERE table_schema = $1',
          [schema],
        );
        let connections = 0;
        for (const { table_name: table } of tables.rows) {
          const { rows } = await client.query(`SELECT * FROM "${schema}"."${table}"`);
          for (const row of rows as Array<Record<string, unknown>>) {
            if (table.endsWith('connections')) {
              connections++;
              checkStoredConnection(`PostgreSQL row "${row.name}"`, row.meta, row.sealed);
            }
            assertNoSecret(JSON.stringify(row), `PostgreSQL table ${table}`);
          }
        }
        assert.ok(connections > 0, 'sanity: the PostgreSQL store holds connections');
      });
    } finally {
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await client.end();
    }
  });
});

describeWithServer('canary secrets in Redis', 'Redis', REDIS_URL, await probeRedis(), () => {
  it('with the Redis store', async () => {
    const prefix = `${uniqueName('canary')}:`;
    const redis = new Redis(REDIS_URL);
    const keysOf = async () => {
      const keys: string[] = [];
      // Keys of connections and of the whole store carry hash tags: `{<prefix>…}:…` (redis-keys.ts).
      for (const match of [`${prefix}*`, `{${prefix}*`]) {
        for await (const batch of redis.scanStream({ match })) keys.push(...(batch as string[]));
      }
      return keys;
    };
    try {
      await libraryRun(`${REDIS_URL}/?prefix=${prefix}`, encryptionKey, async () => {
        let connections = 0;
        for (const key of await keysOf()) {
          const type = await redis.type(key);
          const value =
            type === 'hash'
              ? await redis.hgetall(key)
              : type === 'set'
                ? await redis.smembers(key)
                : type === 'string'
                  ? await redis.get(key)
                  : `(a ${type})`;
          if (key.startsWith(`{${prefix}`) && key.endsWith('}:conn')) {
            connections++;
            const hash = value as Record<string, string>;
            checkStoredConnection(`Redis key ${key}`, hash.meta, hash.sealed);
          }
          assertNoSecret(JSON.stringify(value), `Redis key ${key}`);
        }
        assert.ok(connections > 0, 'sanity: the Redis store holds connections');
      });
    } finally {
      const keys = await keysOf();
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    }
  });
});
