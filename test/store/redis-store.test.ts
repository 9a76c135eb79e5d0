import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { Redis } from 'ioredis';
import type { StoreError } from '../../src/errors.js';
import { RedisTokenStore } from '../../src/store/redis-store.js';
import { runTokenStoreContract } from './contract.js';
import {
  describeWithServer,
  dropRedisSubscriber,
  probeRedis,
  REDIS_URL,
  uniqueName,
  writeUntilHeard,
} from './servers.js';

const problem = await probeRedis();

describeWithServer('RedisTokenStore', 'Redis', REDIS_URL, problem, () => {
  const runPrefix = `${uniqueName('tktest')}:`;
  let admin: Redis;
  let counter = 0;

  function freshPrefix(): string {
    counter += 1;
    return `${runPrefix}${counter}:`;
  }

  /** Every key of a prefix: hash-tagged ones (`{<prefix>…}:…`) and plain ones. */
  async function keysUnder(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    for (const match of [`${prefix}*`, `{${prefix}*`]) {
      let cursor = '0';
      do {
        const [next, batch] = await admin.scan(cursor, 'MATCH', match, 'COUNT', 1000);
        cursor = next;
        keys.push(...batch);
      } while (cursor !== '0');
    }
    return keys.sort();
  }

  before(() => {
    admin = new Redis(REDIS_URL);
    admin.on('error', () => {});
  });

  after(async () => {
    const keys = await keysUnder(runPrefix);
    if (keys.length > 0) await admin.del(...keys);
    assert.deepEqual(await keysUnder(runPrefix), []);
    await admin.quit();
  });

  runTokenStoreContract(
    'redis',
    () => RedisTokenStore.connect({ url: REDIS_URL, keyPrefix: freshPrefix() }),
    {
      changeFeed: true,
    },
  );

  async function twoHosts(test: (a: RedisTokenStore, b: RedisTokenStore, prefix: string) => Promise<void>) {
    const prefix = freshPrefix();
    const a = await RedisTokenStore.connect({ url: REDIS_URL, keyPrefix: prefix });
    const b = await RedisTokenStore.connect({ url: REDIS_URL, keyPrefix: prefix });
    try {
      await test(a, b, prefix);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  }

  it('lets two clients contend for one lock and one connection', () =>
    twoHosts(async (a, b) => {
      assert.equal(await a.tryLock('acme', 'host-a', 60_000), true);
      assert.equal(await b.tryLock('acme', 'host-b', 60_000), false);
      assert.equal(await b.unlock('acme', 'host-b'), false);
      assert.equal(await a.put('acme', { by: 'a' }, 'sa', 0), 1);
      assert.equal(await b.put('acme', { by: 'b' }, 'sb', 1), 2);
      assert.equal(await a.put('acme', { by: 'a' }, 'sa2', 1), undefined);
      assert.deepEqual((await a.get('acme'))?.meta, { by: 'b' });
      assert.equal(await a.unlock('acme', 'host-a'), true);
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a : b).tryLock('acme', `owner-${i}`, 60_000)),
      );
      assert.equal(results.filter(Boolean).length, 1);
    }));

  it('hash-tags every key of a connection, so each script stays in one cluster slot', () =>
    twoHosts(async (a, _b, prefix) => {
      await a.put('acme:prod', { env: 'prod' }, 'sealed', 0);
      await a.tryLock('acme:prod', 'owner', 30_000);
      await a.dueIndex.scheduleDue('acme:prod', 1_000);
      assert.deepEqual(await keysUnder(prefix), [
        `{${prefix}acme:prod}:conn`,
        `{${prefix}acme:prod}:lock`,
        `{${prefix}}:due`,
        `{${prefix}}:layout`,
        `{${prefix}}:names`,
      ]);
      const hash = await admin.hgetall(`{${prefix}acme:prod}:conn`);
      assert.equal(hash.meta, '{"env":"prod"}');
      assert.equal(hash.sealed, 'sealed');
      assert.equal(hash.version, '1');
      assert.ok(Number(hash.updated_at) > 0);
      assert.deepEqual(await admin.smembers(`{${prefix}}:names`), ['acme:prod']);
      assert.equal(await admin.get(`{${prefix}}:layout`), '2');
      const ttl = await admin.pttl(`{${prefix}acme:prod}:lock`);
      assert.ok(ttl > 25_000 && ttl <= 30_000, String(ttl));
      // The slot a cluster would put each key in: one for the connection, one for the store.
      const slot = async (key: string) => Number(await admin.call('CLUSTER', 'KEYSLOT', key).catch(() => -1));
      const connSlot = await slot(`{${prefix}acme:prod}:conn`);
      if (connSlot >= 0) {
        assert.equal(await slot(`{${prefix}acme:prod}:lock`), connSlot);
        assert.equal(await slot(`{${prefix}}:names`), await slot(`{${prefix}}:due`));
      }
      await a.delete('acme:prod');
      // Only the version stays behind, so the name's versions never restart; the name stays
      // in the names set (listing skips it) and leaves the due index.
      assert.deepEqual(await keysUnder(prefix), [
        `{${prefix}acme:prod}:conn`,
        `{${prefix}}:layout`,
        `{${prefix}}:names`,
      ]);
      assert.deepEqual(await admin.hgetall(`{${prefix}acme:prod}:conn`), { version: '1' });
      assert.deepEqual(await a.list(), []);
    }));

  it('lists from its set of names and skips names whose hash was removed by hand', () =>
    twoHosts(async (a, _b, prefix) => {
      await a.put('one', {}, 's', 0);
      await a.put('two', {}, 's', 0);
      await admin.del(`{${prefix}one}:conn`);
      assert.deepEqual(
        (await a.list()).map((c) => c.name),
        ['two'],
      );
    }));

  it('moves a store of the old key layout to the new one on open, losing nothing', async () => {
    const prefix = freshPrefix();
    // Layout 1, as tokenkeeper wrote it before Redis Cluster support.
    await admin.hset(`${prefix}conn:acme`, {
      meta: '{"a":1}',
      sealed: 's-acme',
      version: '3',
      updated_at: '1',
    });
    await admin.hset(`${prefix}conn:we*ird{name}`, {
      meta: '{}',
      sealed: 's-weird',
      version: '1',
      updated_at: '1',
    });
    await admin.hset(`${prefix}conn:deleted`, { version: '5' });
    await admin.sadd(`${prefix}names`, 'acme', 'we*ird{name}');
    await admin.set(`${prefix}lock:acme`, 'old-holder', 'PX', 60_000);
    const [first, second] = await Promise.all([
      RedisTokenStore.connect({ url: REDIS_URL, keyPrefix: prefix }),
      RedisTokenStore.connect({ url: REDIS_URL, keyPrefix: prefix }),
    ]);
    try {
      for (const store of [first!, second!]) {
        assert.deepEqual(await store.list(), [
          { name: 'acme', meta: { a: 1 }, sealed: 's-acme', version: 3 },
          { name: 'we*ird{name}', meta: {}, sealed: 's-weird', version: 1 },
        ]);
      }
      // The live lease moved with its holder; the deleted name's version did too.
      assert.equal(await first!.tryLock('acme', 'newcomer', 60_000), false);
      assert.equal(await first!.unlock('acme', 'old-holder'), true);
      assert.equal(await first!.put('deleted', {}, 's', 0), 6);
      assert.equal(await first!.put('acme', { a: 2 }, 's2', 3), 4);
      assert.deepEqual(
        (await keysUnder(prefix)).filter((key) => !key.startsWith('{')),
        [],
        'no key of the old layout is left',
      );
    } finally {
      await Promise.all([first!.close(), second!.close()]);
    }
  });

  it('refuses keys of a newer layout', async () => {
    const prefix = freshPrefix();
    await admin.set(`{${prefix}}:layout`, '99');
    await assert.rejects(
      RedisTokenStore.connect({ url: REDIS_URL, keyPrefix: prefix }),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, 'STORE');
        assert.match(error.message, /newer tokenkeeper/);
        return true;
      },
    );
  });

  it('splits due work between four clients claiming at once: each name goes to exactly one', async () => {
    const prefix = freshPrefix();
    const clients = await Promise.all(
      Array.from({ length: 4 }, () => RedisTokenStore.connect({ url: REDIS_URL, keyPrefix: prefix })),
    );
    try {
      const names = Array.from({ length: 300 }, (_, i) => `due-${String(i).padStart(3, '0')}`);
      await Promise.all(names.map((name, i) => clients[0]!.dueIndex.scheduleDue(name, 1_000 + i)));
      const claimAll = async (client: RedisTokenStore) => {
        const claimed: string[] = [];
        for (;;) {
          const batch = await client.dueIndex.claimDue(10_000, 4, 60_000);
          if (batch.length === 0) return claimed;
          claimed.push(...batch);
        }
      };
      const shares = await Promise.all(clients.flatMap((client) => [claimAll(client), claimAll(client)]));
      const claimed = shares.flat();
      assert.equal(new Set(claimed).size, claimed.length, 'no name claimed twice');
      assert.deepEqual([...claimed].sort(), names);
      assert.equal(await clients[1]!.dueIndex.nextDueAt(), 70_000);
    } finally {
      await Promise.all(clients.map((client) => client.close()));
    }
  });

  it('says it is not a cluster when the server is standalone', async () => {
    const store = await RedisTokenStore.connect({ url: REDIS_URL, keyPrefix: freshPrefix() });
    try {
      assert.equal(store.cluster, false);
    } finally {
      await store.close();
    }
  });

  it('lists many connections in batches', () =>
    twoHosts(async (a) => {
      const names = Array.from({ length: 1200 }, (_, i) => `conn-${String(i).padStart(4, '0')}`);
      await Promise.all(names.map((name) => a.put(name, { name }, 's', 0)));
      const listed = await a.list();
      assert.equal(listed.length, names.length);
      assert.deepEqual(
        listed.map((c) => c.name),
        names,
      );
    }));

  it('uses the default prefix tokenkeeper:', async () => {
    const store = await RedisTokenStore.connect({ url: REDIS_URL });
    try {
      assert.equal(store.keyPrefix, 'tokenkeeper:');
      assert.equal(store.location, new URL(REDIS_URL).toString());
    } finally {
      await store.close();
    }
  });

  it('reports an unreachable server as a STORE error without the password', async () => {
    await assert.rejects(
      RedisTokenStore.connect({
        url: 'redis://someone:hunter2-secret@127.0.0.1:1',
        redis: { retryStrategy: () => null, connectTimeout: 2000 },
      }),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, 'STORE');
        assert.doesNotMatch(error.message, /hunter2/);
        assert.match(error.message, /redis:\/\/someone@127\.0\.0\.1:1/);
        assert.equal((error as StoreError).kind, 'unreachable');
        return true;
      },
    );
  });

  it('a change feed whose connection is dropped subscribes again, says it may have missed changes, and is heard again', async () => {
    const connectionName = uniqueName('tk_feed');
    const store = await RedisTokenStore.connect({
      url: REDIS_URL,
      keyPrefix: freshPrefix(),
      redis: { connectionName },
    });
    const heard: string[] = [];
    let missed = 0;
    const feed = await store.watchChanges(
      (change) => heard.push(`${change.name}@${change.version}`),
      () => missed++,
    );
    try {
      await dropRedisSubscriber(connectionName);
      await writeUntilHeard(store, heard);
      for (let i = 0; i < 100 && missed === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(missed, 1, 'the feed said, once, that it may have missed changes while it was down');
    } finally {
      await feed.close();
      await store.close();
    }
  });

  it('refuses an empty key prefix', async () => {
    await assert.rejects(RedisTokenStore.connect({ url: REDIS_URL, keyPrefix: '' }), { code: 'CONFIG' });
  });
});
