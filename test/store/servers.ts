/**
 * The real PostgreSQL and Redis servers the store tests talk to, and what to do when one
 * is missing: fail under CI (the suites must run there), skip with a one-line notice locally.
 */

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { Redis } from 'ioredis';
import pg from 'pg';
import { redactConnectionUrl } from '../../src/store/redact-url.js';
import type { TokenStore } from '../../src/store/types.js';

export const PG_URL = process.env.TOKENKEEPER_TEST_PG_URL || 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.TOKENKEEPER_TEST_REDIS_URL || 'redis://127.0.0.1:6379';

/** A name unique to this run, safe as a PostgreSQL identifier and a Redis key part. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
}

/** Resolves to why PostgreSQL cannot be used, or undefined when it can. */
export async function probePostgres(url = PG_URL): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message || error.name : String(error);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Resolves to why Redis cannot be used, or undefined when it can. */
export async function probeRedis(url = REDIS_URL): Promise<string | undefined> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 3000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message || error.name : String(error);
  } finally {
    client.disconnect();
  }
}

/**
 * `describe(name, body)` when the server answered; otherwise a failing suite under CI, or a
 * skipped one with a one-line notice.
 */
export function describeWithServer(
  name: string,
  server: 'PostgreSQL' | 'Redis',
  url: string,
  problem: string | undefined,
  body: () => void,
): void {
  const where = redactConnectionUrl(url);
  if (problem === undefined) {
    describe(name, body);
  } else if (process.env.CI) {
    describe(name, () => {
      it(`needs ${server} at ${where}`, () => {
        assert.fail(`${server} not reachable at ${where} (${problem}); CI must run these tests: start it.`);
      });
    });
  } else {
    describe(name, { skip: `${server} not reachable at ${where}; set CI=true to require it` }, () => {});
  }
}

/**
 * After a change feed lost its connection: writes a row every 100 ms (for at most 10 s) until
 * the feed hears one. Writes made before it listens again go unheard (a watcher reads the
 * store for those), so the first few may be missed.
 */
export async function writeUntilHeard(store: TokenStore, heard: readonly unknown[]): Promise<void> {
  for (let i = 0; i < 100 && heard.length === 0; i++) {
    await store.put('acme', { n: i }, 'sealed', null);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.ok(heard.length > 0, 'a write was heard after the connection was dropped');
}

/** Ends the LISTEN connection of a store whose pool connects with `applicationName`, as a network fault would. */
export async function dropPostgresListener(applicationName: string): Promise<void> {
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ ended: boolean }>(
      `SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity
       WHERE application_name = $1 AND query LIKE 'LISTEN%'`,
      [applicationName],
    );
    assert.deepEqual(
      rows.map((row) => row.ended),
      [true],
      'the listening connection was ended',
    );
  } finally {
    await admin.end();
  }
}

/** Ends the subscriber connection of a store whose clients are named `connectionName`. */
export async function dropRedisSubscriber(connectionName: string): Promise<void> {
  const admin = new Redis(REDIS_URL);
  try {
    // The subscriber is the client of that name with a subscription (`sub=1`).
    const clients = (await admin.client('LIST')) as string;
    const ids = clients
      .split('\n')
      .filter((line) => line.includes(` name=${connectionName} `) && / sub=1 /.test(line))
      .map((line) => /^id=(\d+) /.exec(line)?.[1] as string);
    assert.equal(ids.length, 1, 'one subscriber');
    assert.equal(await admin.client('KILL', 'ID', ids[0] as string), 1);
  } finally {
    admin.disconnect();
  }
}
