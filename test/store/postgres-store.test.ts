import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import pg from 'pg';
import type { StoreError } from '../../src/errors.js';
import { PostgresTokenStore } from '../../src/store/postgres-store.js';
import { runTokenStoreContract } from './contract.js';
import {
  describeWithServer,
  dropPostgresListener,
  PG_URL,
  probePostgres,
  uniqueName,
  writeUntilHeard,
} from './servers.js';

const problem = await probePostgres();

describeWithServer('PostgresTokenStore', 'PostgreSQL', PG_URL, problem, () => {
  const schemas: string[] = [];
  let admin: pg.Pool;

  function freshSchema(): string {
    const schema = uniqueName('tk_test');
    schemas.push(schema);
    return schema;
  }

  before(() => {
    admin = new pg.Pool({ connectionString: PG_URL, max: 2 });
    admin.on('error', () => {});
  });

  after(async () => {
    for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  });

  runTokenStoreContract(
    'postgres',
    () => PostgresTokenStore.connect({ connectionString: PG_URL, schema: freshSchema() }),
    { changeFeed: true },
  );

  async function twoHosts(
    test: (a: PostgresTokenStore, b: PostgresTokenStore, schema: string) => Promise<void>,
  ) {
    const schema = freshSchema();
    const a = await PostgresTokenStore.connect({ connectionString: PG_URL, schema, pool: { max: 5 } });
    const b = await PostgresTokenStore.connect({ connectionString: PG_URL, schema, pool: { max: 5 } });
    try {
      await test(a, b, schema);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  }

  it('lets two hosts (separate pools) contend for one lock and one row', () =>
    twoHosts(async (a, b) => {
      assert.equal(await a.tryLock('acme', 'host-a', 60_000), true);
      assert.equal(await b.tryLock('acme', 'host-b', 60_000), false);
      assert.equal(await b.unlock('acme', 'host-b'), false);
      assert.equal(await b.tryLock('acme', 'host-b', 60_000), false);

      assert.equal(await a.put('acme', { by: 'a' }, 'sa', 0), 1);
      assert.deepEqual(await b.get('acme'), { name: 'acme', meta: { by: 'a' }, sealed: 'sa', version: 1 });
      assert.equal(await b.put('acme', { by: 'b' }, 'sb', 0), undefined);
      assert.equal(await b.put('acme', { by: 'b' }, 'sb', 1), 2);
      assert.equal(await a.put('acme', { by: 'a' }, 'sa2', 1), undefined);
      assert.deepEqual((await a.get('acme'))?.meta, { by: 'b' });

      assert.equal(await a.unlock('acme', 'host-a'), true);
      assert.equal(await b.tryLock('acme', 'host-b', 60_000), true);
      assert.equal(await b.delete('acme'), true);
      assert.equal(await a.get('acme'), undefined);
      assert.equal(await a.tryLock('acme', 'host-a', 60_000), true);
    }));

  it('gives the lock to exactly one of 40 owners spread over two hosts', () =>
    twoHosts(async (a, b) => {
      for (let round = 0; round < 3; round++) {
        const attempts = Array.from({ length: 40 }, (_, i) =>
          (i % 2 === 0 ? a : b).tryLock(`race-${round}`, `owner-${i}`, 60_000),
        );
        const results = await Promise.all(attempts);
        assert.equal(results.filter(Boolean).length, 1);
      }
    }));

  it('loses no update when two hosts increment one counter', () =>
    twoHosts(async (a, b) => {
      await a.put('counter', { count: 0 }, 's', 0);
      const increment = async (store: PostgresTokenStore) => {
        for (;;) {
          const current = (await store.get('counter'))!;
          const next = { count: (current.meta.count as number) + 1 };
          if ((await store.put('counter', next, 's', current.version)) !== undefined) return;
        }
      };
      await Promise.all(Array.from({ length: 20 }, (_, i) => increment(i % 2 === 0 ? a : b)));
      const final = (await b.get('counter'))!;
      assert.equal(final.meta.count, 20);
      assert.equal(final.version, 21);
    }));

  it('measures leases by the database clock, not the client clock', () =>
    twoHosts(async (a, b, schema) => {
      const locks = `"${schema}"."tokenkeeper_locks"`;
      const realNow = Date.now;
      try {
        // A client whose clock runs two hours ahead must not see a fresh lease as expired...
        Date.now = () => realNow() + 2 * 3600_000;
        assert.equal(await a.tryLock('ahead', 'a', 60_000), true);
        assert.equal(await b.tryLock('ahead', 'b', 60_000), false);
        // ...and a client whose clock runs behind must still see an expired lease as expired.
        Date.now = () => realNow() - 2 * 3600_000;
        await admin.query(
          `INSERT INTO ${locks} (name, owner, expires_at) VALUES ($1, $2, now() - interval '1 second')`,
          ['behind', 'old-owner'],
        );
        assert.equal(await b.tryLock('behind', 'b', 60_000), true);
      } finally {
        Date.now = realNow;
      }
      // The lease is now() + ttl on the server.
      const { rows } = await admin.query<{ ms: number }>(
        `SELECT (extract(epoch FROM expires_at - now()) * 1000)::float8 AS ms FROM ${locks} WHERE name = 'behind'`,
      );
      assert.ok(rows[0]!.ms > 55_000 && rows[0]!.ms <= 60_000, String(rows[0]!.ms));
      // A lease that has not run out on the server holds even for a client far in the future.
      await admin.query(`UPDATE ${locks} SET expires_at = now() + interval '1 hour' WHERE name = 'behind'`);
      Date.now = () => realNow() + 24 * 3600_000;
      try {
        assert.equal(await a.tryLock('behind', 'a', 60_000), false);
      } finally {
        Date.now = realNow;
      }
    }));

  it('splits due work between four hosts claiming at once: each name goes to exactly one', async () => {
    const schema = freshSchema();
    const hosts = await Promise.all(
      Array.from({ length: 4 }, () =>
        PostgresTokenStore.connect({ connectionString: PG_URL, schema, pool: { max: 3 } }),
      ),
    );
    try {
      const names = Array.from({ length: 300 }, (_, i) => `due-${String(i).padStart(3, '0')}`);
      await Promise.all(names.map((name, i) => hosts[0]!.dueIndex.scheduleDue(name, 1_000 + i)));
      const claimAll = async (host: PostgresTokenStore) => {
        const claimed: string[] = [];
        for (;;) {
          const batch = await host.dueIndex.claimDue(10_000, 4, 60_000);
          if (batch.length === 0) return claimed;
          claimed.push(...batch);
        }
      };
      // Three workers per host, so claims also overlap inside one pool.
      const shares = await Promise.all(
        hosts.flatMap((host) => [claimAll(host), claimAll(host), claimAll(host)]),
      );
      const claimed = shares.flat();
      assert.equal(new Set(claimed).size, claimed.length, 'no name claimed twice');
      assert.deepEqual([...claimed].sort(), names);
      assert.equal(await hosts[1]!.dueIndex.nextDueAt(), 70_000);
    } finally {
      await Promise.all(hosts.map((host) => host.close()));
    }
  });

  it('upgrades tables of schema version 2 in place, keeping connections and adding the due index', async () => {
    const schema = freshSchema();
    await (await PostgresTokenStore.connect({ connectionString: PG_URL, schema })).close();
    // Back to what version 2 had: no due index, no heartbeats, no rate-limit table.
    for (const table of ['due', 'daemons', 'rate_limits']) {
      await admin.query(`DROP TABLE "${schema}"."tokenkeeper_${table}"`);
    }
    await admin.query(`UPDATE "${schema}"."tokenkeeper_schema_version" SET version = 2`);
    await admin.query(
      `INSERT INTO "${schema}"."tokenkeeper_connections" (name, meta, sealed, version) VALUES ('old', '{"a":1}', 's', 4)`,
    );
    const store = await PostgresTokenStore.connect({ connectionString: PG_URL, schema });
    try {
      assert.deepEqual(await store.get('old'), { name: 'old', meta: { a: 1 }, sealed: 's', version: 4 });
      await store.dueIndex.scheduleDue('old', 5);
      assert.deepEqual(await store.dueIndex.claimDue(5, 1, 100), ['old']);
      const { rows } = await admin.query<{ version: number }>(
        `SELECT version FROM "${schema}"."tokenkeeper_schema_version"`,
      );
      assert.equal(rows[0]!.version, 3);
    } finally {
      await store.close();
    }
  });

  it('creates its tables once when several processes start at once', async () => {
    const schema = freshSchema();
    const stores = await Promise.all(
      Array.from({ length: 6 }, () =>
        PostgresTokenStore.connect({ connectionString: PG_URL, schema, pool: { max: 1 } }),
      ),
    );
    try {
      const results = await Promise.all(stores.map((store, i) => store.put('acme', { i }, 's', 0)));
      assert.equal(results.filter((r) => r === 1).length, 1);
      const { rows } = await admin.query<{ table_name: string }>(
        'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name',
        [schema],
      );
      assert.deepEqual(
        rows.map((r) => r.table_name),
        [
          'tokenkeeper_connections',
          'tokenkeeper_daemons',
          'tokenkeeper_due',
          'tokenkeeper_locks',
          'tokenkeeper_rate_limits',
          'tokenkeeper_retired_versions',
          'tokenkeeper_schema_version',
        ],
      );
    } finally {
      await Promise.all(stores.map((store) => store.close()));
    }
  });

  it('keeps stores with different table prefixes apart', async () => {
    const schema = freshSchema();
    const one = await PostgresTokenStore.connect({ connectionString: PG_URL, schema, tablePrefix: 'one_' });
    const two = await PostgresTokenStore.connect({ connectionString: PG_URL, schema, tablePrefix: 'two_' });
    try {
      await one.put('acme', {}, 's', 0);
      assert.equal(await two.get('acme'), undefined);
      assert.equal(await two.tryLock('acme', 'x', 60_000), true);
      assert.equal(await one.tryLock('acme', 'y', 60_000), true);
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  });

  it('refuses tables written by a newer tokenkeeper', async () => {
    const schema = freshSchema();
    await (await PostgresTokenStore.connect({ connectionString: PG_URL, schema })).close();
    await admin.query(`UPDATE "${schema}"."tokenkeeper_schema_version" SET version = 99`);
    await assert.rejects(
      PostgresTokenStore.connect({ connectionString: PG_URL, schema }),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, 'STORE');
        assert.match(error.message, /newer tokenkeeper/);
        return true;
      },
    );
  });

  it('a change feed whose connection is dropped listens again, says it may have missed changes, and is heard again', async () => {
    const applicationName = uniqueName('tk_feed');
    const store = await PostgresTokenStore.connect({
      connectionString: PG_URL,
      schema: freshSchema(),
      pool: { application_name: applicationName },
    });
    const heard: string[] = [];
    let missed = 0;
    const feed = await store.watchChanges(
      (change) => heard.push(`${change.name}@${change.version}`),
      () => missed++,
    );
    try {
      await dropPostgresListener(applicationName);
      await writeUntilHeard(store, heard);
      for (let i = 0; i < 100 && missed === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(missed, 1, 'the feed said, once, that it may have missed changes while it was down');
    } finally {
      await feed.close();
      await store.close();
    }
  });

  it('shows its URL without the password', async () => {
    const url = new URL(PG_URL);
    url.password = 'hunter2-secret';
    url.searchParams.set('application_name', 'tk-test');
    const store = await PostgresTokenStore.connect({
      connectionString: url.toString(),
      schema: freshSchema(),
    }).catch(() => undefined);
    // With password authentication the made-up password may be refused; the redaction is what matters.
    if (store) {
      assert.equal(store.kind, 'postgres');
      assert.doesNotMatch(store.location, /hunter2/);
      assert.match(store.location, /^postgres(ql)?:\/\//);
      await store.close();
    }
  });

  it('reports an unreachable server as a STORE error without the password', async () => {
    await assert.rejects(
      PostgresTokenStore.connect({
        connectionString: 'postgres://someone:hunter2-secret@127.0.0.1:1/nowhere',
        pool: { connectionTimeoutMillis: 2000 },
      }),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, 'STORE');
        assert.doesNotMatch(error.message, /hunter2/);
        assert.match(error.message, /postgres:\/\/someone@127\.0\.0\.1:1\/nowhere/);
        assert.equal((error as StoreError).kind, 'unreachable');
        return true;
      },
    );
  });

  it('reports a database that does not exist as a store that cannot be used as given', async () => {
    const missing = new URL(PG_URL);
    missing.pathname = '/tokenkeeper_no_such_database';
    await assert.rejects(
      PostgresTokenStore.connect({ connectionString: missing.href }),
      (error: StoreError) => {
        assert.equal(error.code, 'STORE');
        assert.equal(error.kind, 'unusable');
        assert.match(error.message, /create the database, or fix its name/);
        return true;
      },
    );
  });

  it('refuses schema and prefix names it would have to quote', async () => {
    await assert.rejects(PostgresTokenStore.connect({ connectionString: PG_URL, schema: 'a"; DROP' }), {
      code: 'CONFIG',
    });
    await assert.rejects(PostgresTokenStore.connect({ connectionString: PG_URL, tablePrefix: 'x-y' }), {
      code: 'CONFIG',
    });
  });
});
