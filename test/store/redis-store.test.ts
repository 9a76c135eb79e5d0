import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { Redis } from 'ioredis';
import { RedisTokenStore } from '../../src/store/redis-store.js';
import { runTokenStoreContract } from './contract.js';
import { describeWithServer, probeRedis, REDIS_URL, uniqueName } from './servers.js';

const problem = await probeRedis();

describeWithServer('RedisTokenStore', 'Redis', REDIS_URL, problem, () => {
  const runPrefix = `${uniqueName('tktest')}:`;
  let admin: Redis;
  let counter = 0;

  function freshPrefix(): string {
    counter += 1;
    return `${runPrefix}${counter}:`;
  }

  async function keysUnder(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
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

  runTokenStoreContract('redis', () => RedisTokenStore.connect({ url: REDIS_URL, keyPrefix: freshPrefix() }));

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

  it('keeps its keys under the prefix: one hash per connection, a set of names, a lock with a TTL', () =>
    twoHosts(async (a, _b, prefix) => {
      await a.put('acme:prod', { env: 'prod' }, 'sealed', 0);
      await a.tryLock('acme:prod', 'owner', 30_000);
      assert.deepEqual(await keysUnder(prefix), [
        `${prefix}conn:acme:prod`,
        `${prefix}lock:acme:prod`,
        `${prefix}names`,
      ]);
      const hash = await admin.hgetall(`${prefix}conn:acme:prod`);
      assert.equal(hash.meta, '{"env":"prod"}');
      assert.equal(hash.sealed, 'sealed');
      assert.equal(hash.version, '1');
      assert.ok(Number(hash.updated_at) > 0);
      assert.deepEqual(await admin.smembers(`${prefix}names`), ['acme:prod']);
      const ttl = await admin.pttl(`${prefix}lock:acme:prod`);
      assert.ok(ttl > 25_000 && ttl <= 30_000, String(ttl));
      await a.delete('acme:prod');
      // Only the version stays behind, so the name's versions never restart.
      assert.deepEqual(await keysUnder(prefix), [`${prefix}conn:acme:prod`]);
      assert.deepEqual(await admin.hgetall(`${prefix}conn:acme:prod`), { version: '1' });
    }));

  it('lists from its set of names and skips names whose hash was removed by hand', () =>
    twoHosts(async (a, _b, prefix) => {
      await a.put('one', {}, 's', 0);
      await a.put('two', {}, 's', 0);
      await admin.del(`${prefix}conn:one`);
      assert.deepEqual(
        (await a.list()).map((c) => c.name),
        ['two'],
      );
    }));

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
        return true;
      },
    );
  });

  it('refuses an empty key prefix', async () => {
    await assert.rejects(RedisTokenStore.connect({ url: REDIS_URL, keyPrefix: '' }), { code: 'CONFIG' });
  });
});
