/**
 * What every TokenStore must do, as one node:test suite. Each backend's test file runs it
 * with a `makeStore` that returns a fresh, empty, isolated store on every call.
 */

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConnectionMeta, DueIndex, StoreChange, TokenStore } from '../../src/store/types.js';

/** Lease length for locks that must still be held during a test. */
const LONG_TTL = 60_000;
/** Lease length for locks that must run out during a test, and how long to wait for that. */
const SHORT_TTL = 250;
const PAST_SHORT_TTL = 600;

function owner(label: string): string {
  return `${label}-${randomBytes(6).toString('hex')}`;
}

function byName<T extends { name: string }>(items: T[]): T[] {
  return [...items].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export interface ContractOptions {
  /** The backend announces its changes (watchChanges): SQLite, PostgreSQL and Redis. */
  changeFeed?: boolean;
  cleanup?: () => Promise<void>;
}

export function runTokenStoreContract(
  label: string,
  makeStore: () => Promise<TokenStore>,
  options: ContractOptions = {},
): void {
  describe(`TokenStore contract: ${label}`, () => {
    if (options.cleanup) after(options.cleanup);

    async function withStore(test: (store: TokenStore) => Promise<void>): Promise<void> {
      const store = await makeStore();
      try {
        await test(store);
      } finally {
        await store.close();
      }
    }

    it('reports its kind and a location', () =>
      withStore(async (store) => {
        assert.ok(['memory', 'sqlite', 'postgres', 'redis'].includes(store.kind), store.kind);
        assert.equal(typeof store.location, 'string');
        assert.ok(store.location.length > 0);
      }));

    if (options.changeFeed) {
      it('announces each write and delete as it is made, and nothing for a write it refused', () =>
        withStore(async (store) => {
          assert.ok(store.watchChanges, 'the backend has watchChanges');
          const heard: StoreChange[] = [];
          let missed = 0;
          const feed = await store.watchChanges(
            (change) => heard.push(change),
            () => missed++,
          );
          try {
            assert.equal(await store.put('acme', { n: 1 }, 'sealed-1', 0), 1);
            assert.equal(await store.put('acme', { n: 2 }, 'sealed-2', 1), 2);
            assert.equal(await store.put('acme', { n: 3 }, 'sealed-3', 1), undefined, 'a stale version');
            assert.equal(await store.delete('acme', owner('not-the-holder')), false, 'an unheld fence');
            assert.equal(await store.delete('acme'), true);
            assert.equal(await store.put('other', { n: 1 }, 'sealed-1', null), 1);
            for (let i = 0; i < 300 && heard.length < 4; i++) await sleep(10);
            assert.equal(heard.length, 4, JSON.stringify(heard));
            // In order for one name; on a cluster, two names' announcements come from two nodes.
            assert.deepEqual(
              heard.filter((change) => change.name === 'acme'),
              [
                { name: 'acme', version: 1, deleted: false },
                { name: 'acme', version: 2, deleted: false },
                { name: 'acme', version: 2, deleted: true },
              ],
            );
            assert.deepEqual(
              heard.filter((change) => change.name === 'other'),
              [{ name: 'other', version: 1, deleted: false }],
            );
            assert.equal(missed, 0, 'nothing was missed');
            await feed.close();
            assert.equal(await store.put('other', { n: 2 }, 'sealed-2', 1), 2);
            await sleep(200);
            assert.equal(heard.length, 4, 'nothing is heard once the feed is closed');
          } finally {
            await feed.close();
          }
        }));
    }

    if (options.changeFeed) {
      it('a feed hears its own echo, which no feed takes for a change; a closed feed hears none', () =>
        withStore(async (store) => {
          assert.ok(store.watchChanges, 'the backend has watchChanges');
          const heardBySelf: StoreChange[] = [];
          const heardByOther: StoreChange[] = [];
          const feed = await store.watchChanges((change) => heardBySelf.push(change));
          const other = await store.watchChanges((change) => heardByOther.push(change));
          try {
            assert.ok(feed.echo, 'the feed can echo');
            assert.equal(await feed.echo(5_000), true, 'heard');
            assert.equal(await feed.echo(5_000), true, 'heard again');
            assert.equal(await store.put('acme', { n: 1 }, 'sealed-1', 0), 1);
            for (let i = 0; i < 300 && (heardBySelf.length < 1 || heardByOther.length < 1); i++)
              await sleep(10);
            // The echoes went by first, on the same channel: neither feed took one for a change.
            assert.deepEqual(heardBySelf, [{ name: 'acme', version: 1, deleted: false }]);
            assert.deepEqual(heardByOther, [{ name: 'acme', version: 1, deleted: false }]);
            await feed.close();
            assert.equal(await feed.echo(300), false, 'a closed feed hears no echo');
          } finally {
            await feed.close();
            await other.close();
          }
        }));
    }

    it('round-trips a put through get', () =>
      withStore(async (store) => {
        const meta = {
          provider: 'factus',
          environment: 'sandbox',
          scopes: ['a', 'b'],
          expiresAt: 123,
          n: null,
        };
        assert.equal(await store.put('acme', meta, 'sealed-1', 0), 1);
        assert.deepEqual(await store.get('acme'), { name: 'acme', meta, sealed: 'sealed-1', version: 1 });
        assert.equal(await store.get('missing'), undefined);
      }));

    it('starts versions at 1 and adds 1 on every write', () =>
      withStore(async (store) => {
        assert.equal(await store.put('v', { n: 1 }, 's1', null), 1);
        assert.equal(await store.put('v', { n: 2 }, 's2', null), 2);
        assert.equal(await store.put('v', { n: 3 }, 's3', 2), 3);
        assert.equal(await store.put('v', { n: 4 }, 's4', 3), 4);
        assert.deepEqual(await store.get('v'), { name: 'v', meta: { n: 4 }, sealed: 's4', version: 4 });
        // Versions are per connection.
        assert.equal(await store.put('w', {}, 's', 0), 1);
      }));

    it('refuses a write whose expected version is stale, changing nothing', () =>
      withStore(async (store) => {
        assert.equal(await store.put('cas', { n: 1 }, 'first', 0), 1);
        assert.equal(await store.put('cas', { n: 2 }, 'second', 1), 2);
        assert.equal(await store.put('cas', { n: 3 }, 'stale', 1), undefined);
        assert.equal(await store.put('cas', { n: 3 }, 'future', 7), undefined);
        assert.deepEqual(await store.get('cas'), {
          name: 'cas',
          meta: { n: 2 },
          sealed: 'second',
          version: 2,
        });
      }));

    it('refuses expectedVersion 0 when the connection exists', () =>
      withStore(async (store) => {
        assert.equal(await store.put('zero', { n: 1 }, 'first', 0), 1);
        assert.equal(await store.put('zero', { n: 2 }, 'again', 0), undefined);
        assert.deepEqual(await store.get('zero'), {
          name: 'zero',
          meta: { n: 1 },
          sealed: 'first',
          version: 1,
        });
      }));

    it('refuses an expected version above 0 when the connection does not exist, creating nothing', () =>
      withStore(async (store) => {
        assert.equal(await store.put('ghost', {}, 's', 1), undefined);
        assert.equal(await store.get('ghost'), undefined);
        assert.deepEqual(await store.list(), []);
      }));

    it('writes whatever is there when expectedVersion is null', () =>
      withStore(async (store) => {
        assert.equal(await store.put('free', { n: 1 }, 'a', null), 1);
        assert.equal(await store.put('free', { n: 2 }, 'b', null), 2);
        assert.deepEqual(await store.get('free'), { name: 'free', meta: { n: 2 }, sealed: 'b', version: 2 });
      }));

    it('lists every connection', () =>
      withStore(async (store) => {
        assert.deepEqual(await store.list(), []);
        await store.put('b', { n: 'b' }, 'sb', 0);
        await store.put('a', { n: 'a' }, 'sa', 0);
        await store.put('c', { n: 'c' }, 'sc', 0);
        await store.put('a', { n: 'a2' }, 'sa2', 1);
        assert.deepEqual(byName(await store.list()), [
          { name: 'a', meta: { n: 'a2' }, sealed: 'sa2', version: 2 },
          { name: 'b', meta: { n: 'b' }, sealed: 'sb', version: 1 },
          { name: 'c', meta: { n: 'c' }, sealed: 'sc', version: 1 },
        ]);
        await store.delete('b');
        assert.deepEqual(
          byName(await store.list()).map((c) => c.name),
          ['a', 'c'],
        );
        // Created again, and created with no expectation at all: listed as well.
        await store.put('b', { n: 'b2' }, 'sb2', 0);
        await store.put('d', { n: 'd' }, 'sd', null);
        assert.deepEqual(
          byName(await store.list()).map((c) => c.name),
          ['a', 'b', 'c', 'd'],
        );
      }));

    it('lists metadata without the sealed secrets', () =>
      withStore(async (store) => {
        assert.ok(store.listMeta, 'every built-in backend offers listMeta');
        await store.put('b', { n: 'b' }, 'sb', 0);
        await store.put('a', { n: 'a' }, 'sa', 0);
        await store.put('a', { n: 'a2' }, 'sa2', 1);
        const listed = await store.listMeta();
        assert.deepEqual(byName(listed), [
          { name: 'a', meta: { n: 'a2' }, version: 2 },
          { name: 'b', meta: { n: 'b' }, version: 1 },
        ]);
        assert.equal(JSON.stringify(listed).includes('sa2'), false);
      }));

    it('deletes a connection, saying whether there was one', () =>
      withStore(async (store) => {
        await store.put('gone', {}, 's', 0);
        assert.equal(await store.delete('gone'), true);
        assert.equal(await store.get('gone'), undefined);
        assert.equal(await store.delete('gone'), false);
      }));

    it('continues a deleted name’s versions, so a stale expectation never matches the new connection', () =>
      withStore(async (store) => {
        assert.equal(await store.put('again', { n: 1 }, 's1', 0), 1);
        assert.equal(await store.put('again', { n: 2 }, 's2', 1), 2);
        assert.equal(await store.delete('again'), true);
        // A writer that read version 2 before the delete must not resurrect the connection.
        assert.equal(await store.put('again', { n: 'stale' }, 'stale', 2), undefined);
        assert.equal(await store.get('again'), undefined);
        assert.equal(await store.put('again', { n: 'new' }, 'new', 0), 3, 'created again after version 2');
        assert.equal(await store.put('again', { n: 'stale' }, 'stale', 2), undefined);
        assert.equal(await store.put('again', { n: 'stale' }, 'stale', 1), undefined);
        assert.deepEqual(await store.get('again'), {
          name: 'again',
          meta: { n: 'new' },
          sealed: 'new',
          version: 3,
        });
        assert.deepEqual(
          (await store.list()).map((row) => row.name),
          ['again'],
        );
        assert.equal(await store.delete('again'), true);
        assert.deepEqual(await store.list(), []);
        assert.equal(await store.put('again', {}, 'x', null), 4, 'an unconditional write continues too');
      }));

    it('writes with a fence only while the fence owner holds a live lease', () =>
      withStore(async (store) => {
        const a = owner('a');
        const b = owner('b');
        // No lock at all: a fenced write is refused, an unfenced one is not.
        assert.equal(await store.put('f', { n: 0 }, 's0', 0, a), undefined);
        assert.equal(await store.get('f'), undefined);
        assert.equal(await store.put('f', { n: 1 }, 's1', 0), 1);
        assert.equal(await store.tryLock('f', a, SHORT_TTL), true);
        assert.equal(await store.put('f', { n: 2 }, 's2', 1, b), undefined, 'not the holder');
        assert.equal(await store.put('f', { n: 2 }, 's2', 1, a), 2, 'the holder writes');
        await sleep(PAST_SHORT_TTL);
        assert.equal(await store.put('f', { n: 3 }, 's3', 2, a), undefined, 'the lease ran out');
        assert.equal(await store.tryLock('f', b, LONG_TTL), true);
        assert.equal(await store.put('f', { n: 3 }, 's3', 2, a), undefined, 'taken over by b');
        assert.equal(await store.put('f', { n: 3 }, 's3', 2, b), 3);
        assert.deepEqual(await store.get('f'), { name: 'f', meta: { n: 3 }, sealed: 's3', version: 3 });
      }));

    it('deletes with a fence only while the fence owner holds a live lease', () =>
      withStore(async (store) => {
        const a = owner('a');
        const b = owner('b');
        assert.equal(await store.put('d', { n: 1 }, 's1', 0), 1);
        // No lock at all: a fenced delete changes nothing.
        assert.equal(await store.delete('d', a), false);
        assert.equal(await store.tryLock('d', a, SHORT_TTL), true);
        assert.equal(await store.delete('d', b), false, 'not the holder');
        await sleep(PAST_SHORT_TTL);
        assert.equal(await store.delete('d', a), false, 'the lease ran out');
        // A paused logout must not delete what a newer holder saved meanwhile.
        assert.equal(await store.tryLock('d', b, LONG_TTL), true);
        assert.equal(await store.put('d', { n: 2 }, 's2', 1, b), 2);
        assert.equal(await store.delete('d', a), false, 'taken over by b');
        assert.deepEqual(await store.get('d'), { name: 'd', meta: { n: 2 }, sealed: 's2', version: 2 });
        assert.equal(await store.tryLock('d', owner('c'), LONG_TTL), false, 'b still holds the lock');
        // The holder deletes: the row and the lock go, the version stays.
        assert.equal(await store.delete('d', b), true);
        assert.equal(await store.get('d'), undefined);
        assert.equal(await store.tryLock('d', owner('c'), LONG_TTL), true, 'the lock went with the row');
        assert.equal(await store.put('d', {}, 's3', 0), 3);
      }));

    it('renews a lease only for its owner, and only while nobody took it over', () =>
      withStore(async (store) => {
        const a = owner('a');
        const b = owner('b');
        assert.equal(await store.renewLock('r', a, LONG_TTL), false, 'nothing to renew');
        assert.equal(await store.tryLock('r', a, SHORT_TTL), true);
        assert.equal(await store.renewLock('r', b, LONG_TTL), false);
        assert.equal(await store.renewLock('r', a, LONG_TTL), true);
        await sleep(PAST_SHORT_TTL);
        assert.equal(
          await store.tryLock('r', b, LONG_TTL),
          false,
          'the renewed lease outlived its first length',
        );
        assert.equal(await store.unlock('r', a), true);
        assert.equal(await store.tryLock('r', a, SHORT_TTL), true);
        await sleep(PAST_SHORT_TTL);
        assert.equal(await store.tryLock('r', b, LONG_TTL), true);
        assert.equal(await store.renewLock('r', a, LONG_TTL), false, 'b took it over');
        assert.equal(await store.put('r', {}, 's', 0, b), 1);
      }));

    it('drops the lock along with the connection', () =>
      withStore(async (store) => {
        await store.put('locked', {}, 's', 0);
        assert.equal(await store.tryLock('locked', owner('a'), LONG_TTL), true);
        assert.equal(await store.delete('locked'), true);
        assert.equal(await store.tryLock('locked', owner('b'), LONG_TTL), true);
        // Also when only the lock exists.
        assert.equal(await store.delete('locked'), false);
        assert.equal(await store.tryLock('locked', owner('c'), LONG_TTL), true);
      }));

    it('hands returned objects to the caller: mutating them changes nothing stored', () =>
      withStore(async (store) => {
        const meta: ConnectionMeta = { nested: { a: 1 } };
        await store.put('copy', meta, 's', 0);
        (meta.nested as { a: number }).a = 2;
        const read = await store.get('copy');
        assert.deepEqual(read?.meta, { nested: { a: 1 } });
        (read!.meta.nested as { a: number }).a = 3;
        assert.deepEqual((await store.get('copy'))?.meta, { nested: { a: 1 } });
      }));

    it('lets one owner hold a lock; others are refused, the same owner again is told it holds it', () =>
      withStore(async (store) => {
        const a = owner('a');
        const b = owner('b');
        assert.equal(await store.tryLock('l', a, LONG_TTL), true);
        assert.equal(await store.tryLock('l', b, LONG_TTL), false);
        // Idempotent: a request resent after a lost reply must not lock its sender out.
        assert.equal(await store.tryLock('l', a, LONG_TTL), true);
        assert.equal(await store.tryLock('l', b, LONG_TTL), false);
        // Locks are per name, and need no stored connection.
        assert.equal(await store.tryLock('other', b, LONG_TTL), true);
      }));

    it('refuses an unlock by someone who is not the owner, and keeps the lock held', () =>
      withStore(async (store) => {
        const a = owner('a');
        const b = owner('b');
        assert.equal(await store.tryLock('l', a, LONG_TTL), true);
        assert.equal(await store.unlock('l', b), false);
        assert.equal(await store.tryLock('l', owner('c'), LONG_TTL), false);
        assert.equal(await store.unlock('l', a), true);
        assert.equal(await store.unlock('l', a), false);
        assert.equal(await store.tryLock('l', b, LONG_TTL), true);
        assert.equal(await store.unlock('never-locked', a), false);
      }));

    it('lets another owner take a lock whose lease ran out; the old owner can no longer release it', () =>
      withStore(async (store) => {
        const a = owner('a');
        const b = owner('b');
        assert.equal(await store.tryLock('l', a, SHORT_TTL), true);
        assert.equal(await store.tryLock('l', b, LONG_TTL), false);
        await sleep(PAST_SHORT_TTL);
        assert.equal(await store.tryLock('l', b, LONG_TTL), true);
        assert.equal(await store.unlock('l', a), false);
        assert.equal(await store.tryLock('l', owner('c'), LONG_TTL), false);
        assert.equal(await store.unlock('l', b), true);
      }));

    it('lets the same owner take its lock again after the lease ran out', () =>
      withStore(async (store) => {
        const a = owner('a');
        assert.equal(await store.tryLock('l', a, SHORT_TTL), true);
        await sleep(PAST_SHORT_TTL);
        assert.equal(await store.tryLock('l', a, LONG_TTL), true);
        assert.equal(await store.tryLock('l', owner('b'), LONG_TTL), false);
      }));

    it('says false when the owner unlocks after its lease ran out', () =>
      withStore(async (store) => {
        const a = owner('a');
        assert.equal(await store.tryLock('l', a, SHORT_TTL), true);
        await sleep(PAST_SHORT_TTL);
        assert.equal(await store.unlock('l', a), false);
        assert.equal(await store.tryLock('l', owner('b'), LONG_TTL), true);
      }));

    it('gives the lock to exactly one of 50 concurrent owners', () =>
      withStore(async (store) => {
        const owners = Array.from({ length: 50 }, (_, i) => owner(`o${i}`));
        const results = await Promise.all(owners.map((o) => store.tryLock('race', o, LONG_TTL)));
        assert.equal(results.filter(Boolean).length, 1);
        const winner = owners[results.indexOf(true)]!;
        const losers = owners.filter((o) => o !== winner);
        assert.deepEqual(
          await Promise.all(losers.map((o) => store.unlock('race', o))),
          losers.map(() => false),
        );
        assert.equal(await store.unlock('race', winner), true);
      }));

    it('lets exactly one of several concurrent writers with the same expected version win', () =>
      withStore(async (store) => {
        assert.equal(await store.put('race', { writer: -1 }, 'start', 0), 1);
        const writers = Array.from({ length: 20 }, (_, i) => i);
        const results = await Promise.all(
          writers.map((i) => store.put('race', { writer: i }, `sealed-${i}`, 1)),
        );
        assert.deepEqual(
          results.filter((r) => r !== undefined),
          [2],
        );
        const winner = results.indexOf(2);
        assert.deepEqual(await store.get('race'), {
          name: 'race',
          meta: { writer: winner },
          sealed: `sealed-${winner}`,
          version: 2,
        });
      }));

    it('lets exactly one of several concurrent creators win', () =>
      withStore(async (store) => {
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) => store.put('fresh', { creator: i }, `s${i}`, 0)),
        );
        assert.deepEqual(
          results.filter((r) => r !== undefined),
          [1],
        );
        const winner = results.indexOf(1);
        assert.deepEqual((await store.get('fresh'))?.meta, { creator: winner });
      }));

    it('loses no update when concurrent writers retry on conflict', () =>
      withStore(async (store) => {
        await store.put('counter', { count: 0 }, 's', 0);
        const increment = async () => {
          for (;;) {
            const current = (await store.get('counter'))!;
            const next = (current.meta.count as number) + 1;
            if ((await store.put('counter', { count: next }, 's', current.version)) !== undefined) return;
          }
        };
        await Promise.all(Array.from({ length: 10 }, () => increment()));
        const final = (await store.get('counter'))!;
        assert.equal(final.meta.count, 10);
        assert.equal(final.version, 11);
      }));

    it('keeps names with unicode, quotes, colons and wildcards apart', () =>
      withStore(async (store) => {
        const names = [
          'acme',
          'acme:prod',
          'a:b:c',
          'conn:acme',
          'lock:acme',
          'names',
          'it\'s "quoted"',
          "Robert'); DROP TABLE connections;--",
          'ünïcödé 名前 🔑',
          'back\\slash/forward',
          '%_*?[]{}',
          ' spaced ',
          'x'.repeat(256),
        ];
        for (const [i, name] of names.entries()) {
          assert.equal(await store.put(name, { i, name }, `sealed ${name}`, 0), 1, name);
        }
        for (const [i, name] of names.entries()) {
          assert.deepEqual(await store.get(name), {
            name,
            meta: { i, name },
            sealed: `sealed ${name}`,
            version: 1,
          });
        }
        assert.deepEqual(
          byName(await store.list()).map((c) => c.name),
          [...names].sort(),
        );
        assert.equal(await store.tryLock('acme:prod', owner('a'), LONG_TTL), true);
        assert.equal(await store.tryLock('acme', owner('b'), LONG_TTL), true);
        assert.equal(await store.delete('acme'), true);
        assert.equal((await store.get('acme:prod'))?.version, 1);
        assert.equal(await store.tryLock('acme:prod', owner('c'), LONG_TTL), false);
      }));

    it('stores large metadata and sealed values intact', () =>
      withStore(async (store) => {
        const meta: ConnectionMeta = {
          text: 'ü名🔑"\'\\\n\t'.repeat(20_000),
          list: Array.from({ length: 5_000 }, (_, i) => ({ i, scope: `scope:${i}`, on: i % 2 === 0 })),
          deep: { a: { b: { c: { d: [1, 2.5, -3e-7, true, false, null, ''] } } } },
        };
        const sealed = randomBytes(150_000).toString('base64url');
        assert.equal(await store.put('big', meta, sealed, 0), 1);
        assert.deepEqual(await store.get('big'), { name: 'big', meta, sealed, version: 1 });
        assert.deepEqual(await store.list(), [{ name: 'big', meta, sealed, version: 1 }]);
      }));

    it('refuses bad arguments with CONFIG errors', () =>
      withStore(async (store) => {
        const config = { code: 'CONFIG' };
        await assert.rejects(store.put('', {}, 's', 0), config);
        await assert.rejects(store.put('x'.repeat(257), {}, 's', 0), config);
        await assert.rejects(store.put('nul\u0000name', {}, 's', 0), config);
        await assert.rejects(store.put('newline\nname', {}, 's', 0), config);
        await assert.rejects(store.put('ok', {}, 's', -1), config);
        await assert.rejects(store.put('ok', {}, 's', 1.5), config);
        await assert.rejects(store.put('ok', [] as unknown as ConnectionMeta, 's', 0), config);
        await assert.rejects(store.put('ok', { n: 1n } as unknown as ConnectionMeta, 's', 0), config);
        await assert.rejects(store.put('ok', {}, 42 as unknown as string, 0), config);
        await assert.rejects(store.get(''), config);
        await assert.rejects(store.tryLock('ok', owner('a'), 0), config);
        await assert.rejects(store.tryLock('ok', owner('a'), Number.NaN), config);
        await assert.rejects(store.tryLock('ok', '', LONG_TTL), config);
        assert.deepEqual(await store.list(), []);
      }));

    describe('due index', () => {
      /** The store's due index; every built-in backend has one. */
      function dueIndexOf(store: TokenStore): DueIndex {
        assert.ok(store.dueIndex, `${label} offers a due index`);
        return store.dueIndex;
      }

      it('claims what is due, most overdue first, and hides it for the lease', () =>
        withStore(async (store) => {
          const index = dueIndexOf(store);
          assert.equal(await index.nextDueAt(), undefined);
          await index.scheduleDue('a', 1_000);
          await index.scheduleDue('b', 500);
          await index.scheduleDue('c', 3_000);
          assert.equal(await index.nextDueAt(), 500);
          assert.deepEqual(await index.claimDue(2_000, 10, 5_000), ['b', 'a']);
          assert.deepEqual(await index.claimDue(2_000, 10, 5_000), [], 'claimed entries are hidden');
          assert.equal(await index.nextDueAt(), 3_000);
          assert.deepEqual(await index.claimDue(3_000, 10, 5_000), ['c']);
          assert.equal(await index.nextDueAt(), 7_000, 'a and b come due again one lease after their claim');
        }));

      it('takes at most `limit` entries per claim', () =>
        withStore(async (store) => {
          const index = dueIndexOf(store);
          for (const [i, name] of ['e', 'd', 'c', 'b', 'a'].entries()) await index.scheduleDue(name, 100 + i);
          assert.deepEqual(await index.claimDue(1_000, 2, 60_000), ['e', 'd']);
          assert.deepEqual(await index.claimDue(1_000, 2, 60_000), ['c', 'b']);
          assert.deepEqual(await index.claimDue(1_000, 2, 60_000), ['a']);
        }));

      it('gives a claim nobody rescheduled back after the lease: a dead claimer loses nothing', () =>
        withStore(async (store) => {
          const index = dueIndexOf(store);
          await index.scheduleDue('orphan', 1_000);
          assert.deepEqual(await index.claimDue(1_000, 1, 500), ['orphan']);
          // The claimer dies here, without scheduling the entry's next due time.
          assert.deepEqual(await index.claimDue(1_499, 1, 500), []);
          assert.deepEqual(await index.claimDue(1_500, 1, 500), ['orphan']);
        }));

      it('keeps a rescheduled entry until its new due time', () =>
        withStore(async (store) => {
          const index = dueIndexOf(store);
          await index.scheduleDue('kept', 1_000);
          assert.deepEqual(await index.claimDue(1_000, 1, 500), ['kept']);
          await index.scheduleDue('kept', 10_000);
          assert.deepEqual(await index.claimDue(9_999, 1, 500), []);
          assert.equal(await index.nextDueAt(), 10_000);
          // Moving an entry earlier works too.
          await index.scheduleDue('kept', 2_000);
          assert.deepEqual(await index.claimDue(2_000, 1, 500), ['kept']);
        }));

      it('unschedules an entry, and delete() drops the connection’s entry', () =>
        withStore(async (store) => {
          const index = dueIndexOf(store);
          await index.scheduleDue('off', 100);
          await index.unscheduleDue('off');
          await index.unscheduleDue('never-scheduled');
          assert.equal(await index.nextDueAt(), undefined);
          await store.put('gone', {}, 's', 0);
          await index.scheduleDue('gone', 100);
          await index.scheduleDue('stays', 200);
          assert.equal(await store.delete('gone'), true);
          assert.deepEqual(await index.claimDue(1_000, 10, 500), ['stays']);
        }));

      it('never hands one name to two of many concurrent claims', () =>
        withStore(async (store) => {
          const index = dueIndexOf(store);
          const names = Array.from({ length: 120 }, (_, i) => `due-${String(i).padStart(3, '0')}`);
          await Promise.all(names.map((name, i) => index.scheduleDue(name, 1_000 + i)));
          const claims = await Promise.all(
            Array.from({ length: 12 }, () => index.claimDue(5_000, 7, 60_000)),
          );
          const claimed = claims.flat();
          assert.equal(new Set(claimed).size, claimed.length, 'no name claimed twice');
          assert.equal(claimed.length, 84, 'every claim got its full share');
          const rest = await index.claimDue(5_000, 1_000, 60_000);
          assert.deepEqual([...claimed, ...rest].sort(), names);
        }));

      it('knows which daemons are alive by their heartbeats', () =>
        withStore(async (store) => {
          const index = dueIndexOf(store);
          assert.deepEqual(await index.liveDaemons(1_000), []);
          await index.heartbeat('daemon-a', 1_000, 500);
          await index.heartbeat('daemon-b', 1_000, 2_000);
          assert.deepEqual(await index.liveDaemons(1_200), ['daemon-a', 'daemon-b']);
          assert.deepEqual(await index.liveDaemons(1_500), ['daemon-b'], "a's heartbeat ran out");
          await index.heartbeat('daemon-a', 1_600, 500);
          assert.deepEqual(await index.liveDaemons(1_700), ['daemon-a', 'daemon-b']);
          assert.deepEqual(await index.liveDaemons(3_000), []);
        }));

      it('refuses bad arguments with CONFIG errors', () =>
        withStore(async (store) => {
          const index = dueIndexOf(store);
          const config = { code: 'CONFIG' };
          await assert.rejects(index.scheduleDue('', 1), config);
          await assert.rejects(index.scheduleDue('ok', Number.NaN), config);
          await assert.rejects(index.scheduleDue('ok', -1), config);
          await assert.rejects(index.claimDue(1, 0, 100), config);
          await assert.rejects(index.claimDue(1, 1.5, 100), config);
          await assert.rejects(index.claimDue(1, 1, 0), config);
          await assert.rejects(index.heartbeat('', 1, 100), config);
          await assert.rejects(index.heartbeat('d', 1, Number.POSITIVE_INFINITY), config);
          assert.equal(await index.nextDueAt(), undefined);
        }));
    });

    describe('shared rate limits', () => {
      it('takes from a budget up to its sub-window’s share, then says how long to wait', () =>
        withStore(async (store) => {
          if (store.kind === 'memory') {
            assert.equal(store.rateLimits, undefined, 'one process has nobody to share a budget with');
            return;
          }
          const limits = store.rateLimits;
          assert.ok(limits, `${label} shares rate limits`);
          // 10 a minute: sub-windows of 2 requests per 15 s (fixed-windows.ts).
          assert.equal(await limits.take('acme#0', 10, 60_000), 0);
          assert.equal(await limits.take('acme#0', 10, 60_000), 0);
          const wait = await limits.take('acme#0', 10, 60_000);
          assert.ok(wait > 0 && wait <= 15_000, `wait ${wait} ms`);
          assert.equal(await limits.take('acme#1', 10, 60_000), 0, 'budgets are separate');
          assert.equal(await limits.take(`${'x'.repeat(300)}#0`, 10, 60_000), 0, 'long budget names work');
        }));

      it('counts in this process alone, without failing, when the store cannot be reached', async () => {
        const store = await makeStore();
        const limits = store.rateLimits;
        if (!limits) return store.close();
        assert.equal(await limits.take('acme#0', 10, 60_000), 0, 'the limiter for this shape exists');
        await store.close();
        // rate-limiter-flexible's in-memory insurance limiter takes over: still 2 per 15 s.
        assert.equal(await limits.take('gone#0', 10, 60_000), 0);
        assert.equal(await limits.take('gone#0', 10, 60_000), 0);
        assert.ok((await limits.take('gone#0', 10, 60_000)) > 0);
      });

      it('holds a budget back after a 429, even with room left', () =>
        withStore(async (store) => {
          if (!store.rateLimits) return;
          await store.rateLimits.holdOff('held#0', 10, 60_000, 5_000);
          const wait = await store.rateLimits.take('held#0', 10, 60_000);
          assert.ok(wait > 0 && wait <= 5_000, `wait ${wait} ms`);
          assert.equal(await store.rateLimits.take('free#0', 10, 60_000), 0);
        }));
    });

    it('says it is closed when used after close()', async () => {
      const store = await makeStore();
      await store.close();
      await store.close(); // twice is fine
      await assert.rejects(store.get('acme'), { code: 'STORE' });
      await assert.rejects(store.put('acme', {}, 's', 0), { code: 'STORE' });
      await assert.rejects(store.tryLock('acme', owner('a'), LONG_TTL), { code: 'STORE' });
      await assert.rejects(store.dueIndex!.claimDue(1_000, 1, 1_000), { code: 'STORE' });
      await assert.rejects(store.dueIndex!.scheduleDue('acme', 1_000), { code: 'STORE' });
    });
  });
}
