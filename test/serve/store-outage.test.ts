/**
 * A store that stops answering while its connections stay open (a Redis server or a
 * PostgreSQL cluster of the test's own, paused with SIGSTOP): every request to the daemon
 * still gets an answer, a 503 that names the store, and the daemon still shuts down.
 */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import {
  type FactusRunningEmulator,
  startFactusEmulator,
} from '../../src/emulators/factus/factus-emulator.js';
import { createKeeper, type Keeper } from '../../src/keeper.js';
import { type Daemon, startDaemon } from '../../src/serve/daemon.js';
import { generateEncryptionKey } from '../../src/store/encryption.js';
import {
  type PausableServer,
  probePrivatePostgres,
  probePrivateRedis,
  startPrivatePostgres,
  startPrivateRedis,
} from '../store/private-servers.js';
import { SECRET } from './serve-rig.js';

/** What a test waits at most for an answer it expects: far more than any bound of the store. */
const ANSWER_WITHIN_MS = 30_000;

/** Resolves `true` when `promise` settles within `ms`, `false` otherwise. */
function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

async function connectEmulated(keeper: Keeper, emulator: FactusRunningEmulator): Promise<void> {
  const { clientId, clientSecret, username, password } = emulator.credentials;
  await keeper.connect('acme', {
    provider: 'factus',
    baseUrl: emulator.url,
    clientId,
    clientSecret,
    username,
    password,
  });
}

function callerOf(daemon: Daemon) {
  return (path: string) =>
    fetch(`${daemon.url}${path}`, {
      headers: { authorization: `Bearer ${SECRET}` },
      signal: AbortSignal.timeout(ANSWER_WITHIN_MS),
    });
}

interface Silence {
  /** The store stops answering. */
  begin(): void | Promise<void>;
  /** It answers again. */
  end(): void | Promise<void>;
}

/**
 * A daemon that opened `location` itself (as `tokenkeeper serve` does), with a connection a
 * CLI logged in: while the store is silent, the token, proxy and health endpoints answer 503,
 * and close() ends.
 */
async function answersAndStopsWhileSilent(location: string, silence: Silence): Promise<void> {
  const emulator = await startFactusEmulator();
  const env = {
    TOKENKEEPER_KEY: generateEncryptionKey().toString('base64'),
    TOKENKEEPER_SERVE_SECRET: SECRET,
  };
  const cli = createKeeper({ store: location, env, proactiveRefresh: false });
  await connectEmulated(cli, emulator);
  const daemon = await startDaemon({ store: location, env, watchIntervalMs: 200 });
  const call = callerOf(daemon);
  let closed = false;
  try {
    assert.equal((await call('/v1/connections/acme/token')).status, 200);
    // Holding no token, the daemon must read the store to answer.
    daemon.keeper.release('acme');
    await silence.begin();
    for (const path of [
      '/v1/connections/acme/token',
      '/v1/connections/nosuch/token',
      '/proxy/nosuch/v1/bills',
    ]) {
      const response = await call(path);
      const body = (await response.json()) as { error: { code: string; message: string } };
      assert.equal(response.status, 503, `${path}: ${JSON.stringify(body)}`);
      assert.equal(body.error.code, 'STORE', path);
      assert.match(body.error.message, /did not answer within \d+ s/, path);
    }
    const health = await fetch(`${daemon.url}/healthz`, { signal: AbortSignal.timeout(ANSWER_WITHIN_MS) });
    assert.equal(health.status, 503);
    await health.body?.cancel();
    assert.ok(
      await within(daemon.close(), ANSWER_WITHIN_MS),
      'the daemon shut down while the store was silent',
    );
    closed = true;
  } finally {
    await silence.end();
    if (!closed) await daemon.close();
    await cli.close();
    await emulator.stop();
  }
}

/** Runs `body` with a server of the test's own; without the programs for one, fails under CI, else skips. */
async function withPrivateServer(
  t: TestContext,
  problem: () => Promise<string | undefined>,
  start: () => Promise<PausableServer>,
  body: (server: PausableServer) => Promise<void>,
): Promise<void> {
  const missing = await problem();
  if (missing !== undefined) {
    if (process.env.CI) assert.fail(`${missing}; CI must run this test`);
    t.skip(missing);
    return;
  }
  const server = await start();
  try {
    await body(server);
  } finally {
    await server.stop();
  }
}

describe('the daemon on a store that stops answering', () => {
  it('Redis: answers 503 and shuts down while the server is paused', (t) =>
    withPrivateServer(t, probePrivateRedis, startPrivateRedis, (redis) =>
      answersAndStopsWhileSilent(`${redis.url}/?prefix=outage:`, {
        begin: () => redis.pause(),
        end: () => redis.resume(),
      }),
    ));

  it('PostgreSQL: answers 503 and shuts down while the cluster is paused', (t) =>
    withPrivateServer(t, probePrivatePostgres, startPrivatePostgres, (postgres) =>
      answersAndStopsWhileSilent(postgres.url, {
        begin: () => postgres.pause(),
        end: () => postgres.resume(),
      }),
    ));
});
