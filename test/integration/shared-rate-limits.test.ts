/**
 * Processes sharing one Factus user stay under its rate limit together, counted at the
 * Factus emulator: eight real processes through PostgreSQL and through Redis, two through
 * one SQLite file. Each process alone stays under the limit; only a shared count keeps
 * them all under it, so a per-process count shows up as 429s at the emulator.
 *
 * To finish in seconds, the emulator's clock runs 60 times faster (its minute is one real
 * second) and the children's Factus profile allows LIMIT requests per real second.
 */

import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { startFactusEmulator } from '../../src/emulators/factus/factus-emulator.js';
import { createKeeper } from '../../src/keeper.js';
import { factusSpec } from '../helpers/factus.js';
import {
  describeWithServer,
  PG_URL,
  probePostgres,
  probeRedis,
  REDIS_URL,
  uniqueName,
} from '../store/servers.js';

const LIMIT = 10;
const childScript = fileURLToPath(new URL('../fixtures/shared-limit-child.js', import.meta.url));

interface Child {
  process: ChildProcessWithoutNullStreams;
  lines: AsyncIterator<string>;
}

function startChild(env: NodeJS.ProcessEnv, requests: number): Child {
  const child = spawn(process.execPath, [childScript, String(requests), String(LIMIT)], {
    stdio: 'pipe',
    env: { ...process.env, ...env },
  });
  child.stderr.on('data', (chunk) => process.stderr.write(chunk));
  // Bounded: a child that hangs is killed, and its missing line fails the test.
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  child.once('exit', () => clearTimeout(timer));
  return { process: child, lines: createInterface({ input: child.stdout })[Symbol.asyncIterator]() };
}

async function nextLine(child: Child): Promise<string> {
  const { value, done } = await child.lines.next();
  if (done) throw new Error('child exited early');
  return value;
}

/**
 * Logs in once on `store`, then lets `processes` children send `requests` each, all at
 * once, and returns what the emulator counted.
 */
async function runProcesses(env: NodeJS.ProcessEnv, processes: number, requests: number) {
  const start = Date.now();
  const emulator = await startFactusEmulator({
    rateLimitPerMinute: LIMIT,
    now: () => start + (Date.now() - start) * 60,
  });
  try {
    const keeper = createKeeper({ env, proactiveRefresh: false });
    await keeper.connect('acme', factusSpec(emulator));
    await keeper.close();

    const children = Array.from({ length: processes }, () => startChild(env, requests));
    for (const child of children) assert.equal(await nextLine(child), 'ready');
    emulator.resetStats();
    for (const child of children) child.process.stdin.write('go\n');
    const results = await Promise.all(children.map((child) => nextLine(child)));
    for (const child of children) child.process.stdin.end();
    await Promise.all(
      children.map((child) =>
        child.process.exitCode === null
          ? new Promise((resolve) => child.process.once('exit', resolve))
          : null,
      ),
    );
    const outcomes = results.map((line) => JSON.parse(line) as { statuses?: number[]; error?: string });
    return { outcomes, stats: emulator.stats() };
  } finally {
    await emulator.stop();
  }
}

function assertSharedLimit(
  result: Awaited<ReturnType<typeof runProcesses>>,
  processes: number,
  requests: number,
) {
  const { outcomes, stats } = result;
  assert.deepEqual(
    outcomes.map((outcome) => outcome.error),
    outcomes.map(() => undefined),
  );
  assert.deepEqual(
    outcomes.flatMap((outcome) => outcome.statuses),
    Array.from({ length: processes * requests }, () => 200),
  );
  assert.ok(processes * requests > LIMIT, 'sanity: together they ask for more than one window allows');
  assert.equal(stats.rateLimited, 0, 'no request met a 429: the processes stayed under the limit together');
  assert.equal(stats.apiRequests, processes * requests, 'each request reached the emulator once');
  assert.equal(stats.tokenRequests.total, 0, 'the children used the stored token');
}

const key = randomBytes(32).toString('base64');

describeWithServer(
  'shared rate limits through PostgreSQL',
  'PostgreSQL',
  PG_URL,
  await probePostgres(),
  () => {
    const schema = uniqueName('tk_limits');
    after(async () => {
      const admin = new pg.Client({ connectionString: PG_URL });
      await admin.connect();
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.end();
    });

    it('keeps eight processes on one Factus user under its limit together', async () => {
      const url = new URL(PG_URL);
      url.searchParams.set('schema', schema);
      const env = { TOKENKEEPER_STORE: url.toString(), TOKENKEEPER_KEY: key };
      assertSharedLimit(await runProcesses(env, 8, 2), 8, 2);
    });
  },
);

describeWithServer('shared rate limits through Redis', 'Redis', REDIS_URL, await probeRedis(), () => {
  const prefix = `${uniqueName('tklimits')}:`;
  after(async () => {
    const admin = new Redis(REDIS_URL);
    const keys = [...(await admin.keys(`${prefix}*`)), ...(await admin.keys(`{${prefix}*`))];
    if (keys.length > 0) await admin.del(...keys);
    await admin.quit();
  });

  it('keeps eight processes on one Factus user under its limit together', async () => {
    const url = new URL(REDIS_URL);
    url.searchParams.set('prefix', prefix);
    const env = { TOKENKEEPER_STORE: url.toString(), TOKENKEEPER_KEY: key };
    assertSharedLimit(await runProcesses(env, 8, 2), 8, 2);
  });
});

describe('shared rate limits through SQLite', () => {
  it('keeps two processes on one host under the limit together', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tk-limits-'));
    try {
      const env = { TOKENKEEPER_STORE: join(dir, 'tokens.db') };
      assertSharedLimit(await runProcesses(env, 2, 8), 2, 8);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
