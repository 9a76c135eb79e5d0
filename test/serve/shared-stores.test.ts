/**
 * The daemon on the real PostgreSQL and Redis stores, beside another keeper on the same
 * store: it keeps the connection fresh and sees what the other one adds and removes.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Redis } from 'ioredis';
import pg from 'pg';
import { PostgresTokenStore } from '../../src/store/postgres-store.js';
import { RedisTokenStore } from '../../src/store/redis-store.js';
import type { TokenStore } from '../../src/store/types.js';
import {
  describeWithServer,
  PG_URL,
  probePostgres,
  probeRedis,
  REDIS_URL,
  uniqueName,
} from '../store/servers.js';
import { connectFactus, eventually, startServeRig } from './serve-rig.js';

async function keepsFreshAndWatches(store: TokenStore): Promise<void> {
  const rig = await startServeRig({ store, factus: { accessTtlSeconds: 600 } });
  try {
    await connectFactus(rig, 'acme');
    await rig.daemon.keepAlive.sync();
    await rig.advance(30 * 60_000, 60_000);
    const refreshes = rig.factus.stats().tokenRequests.refresh_token ?? 0;
    assert.ok(refreshes >= 3 && refreshes <= 4, `expected 3 or 4 refreshes in 30 minutes, got ${refreshes}`);
    const token = (await (await rig.call('/v1/connections/acme/token')).json()) as { access_token: string };
    assert.equal(token.access_token, await rig.cli.getAccessToken('acme'));

    await connectFactus(rig, 'second');
    await eventually(() => rig.daemon.keepAlive.get('second') !== undefined, 'the new connection is seen');
    await rig.cli.logout('second');
    await eventually(() => rig.daemon.keepAlive.get('second') === undefined, 'the logout is seen');
  } finally {
    await rig.close();
  }
}

const pgProblem = await probePostgres();
describeWithServer('the daemon on PostgreSQL', 'PostgreSQL', PG_URL, pgProblem, () => {
  it('keeps a connection fresh and watches the store', async () => {
    const schema = uniqueName('tk_serve');
    const store = await PostgresTokenStore.connect({ connectionString: PG_URL, schema });
    try {
      await keepsFreshAndWatches(store);
    } finally {
      await store.close();
      const admin = new pg.Client({ connectionString: PG_URL });
      await admin.connect();
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.end();
    }
  });
});

const redisProblem = await probeRedis();
describeWithServer('the daemon on Redis', 'Redis', REDIS_URL, redisProblem, () => {
  it('keeps a connection fresh and watches the store', async () => {
    const prefix = `${uniqueName('tk_serve')}:`;
    const store = await RedisTokenStore.connect({ url: REDIS_URL, keyPrefix: prefix });
    try {
      await keepsFreshAndWatches(store);
    } finally {
      await store.close();
      const admin = new Redis(REDIS_URL);
      const keys = await admin.keys(`${prefix}*`);
      if (keys.length > 0) await admin.del(...keys);
      admin.disconnect();
    }
  });
});
