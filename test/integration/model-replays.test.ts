/**
 * The counterexamples of the model's broken variants (model/refresh.pml, `npm run model`),
 * replayed against the real code: each interleaving is driven step by step with store gates
 * (test/helpers/gated-store.ts), the test's clock (which also measures the store's leases)
 * and the emulator's fault injection, and each shows the safeguard that the variant removed
 * holding in src/, on the memory store and on SQLite (whose lease clock a test can also move).
 * Remove that safeguard and its test fails (shown here for the memory store; SQLite's
 * `put`/`delete` transactions check the fence the same way):
 *
 *   variant-no-fence             MemoryTokenStore.put: `if (fence !== undefined && !this.#holds(name, fence))`
 *   variant-no-reread            Refresher.refresh: `current = await repository.load(name)` under the lock
 *   variant-no-generation-check  Refresher.#persist: `if (theirs.record.generation !== current.record.generation)`
 *   variant-no-renewal           holdLease: the first `renewLater()`
 *   variant-no-delete-fence      MemoryTokenStore.delete: `if (!this.#holds(name, fence)) return false`,
 *                                or keeper.#deleteUnderLease passing `lease.owner`
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { FakeClock } from '../../src/clock.js';
import { ConnectionRepository } from '../../src/connection.js';
import type { TokenkeeperError } from '../../src/errors.js';
import { createKeeper } from '../../src/keeper.js';
import { createSecretBox, generateEncryptionKey } from '../../src/store/encryption.js';
import { MemoryTokenStore } from '../../src/store/memory-store.js';
import { SqliteTokenStore } from '../../src/store/sqlite-store.js';
import type { TokenStore } from '../../src/store/types.js';
import { recordEvents, startFactusRig } from '../helpers/factus.js';
import { GatedStore } from '../helpers/gated-store.js';

const KEY = generateEncryptionKey();
/** Stale, not yet expired: the next call refreshes. */
const STALE = 3600_000 - 30_000;
/**
 * A lease measured on the test's clock. Its renewals run on the system clock every third of
 * it (20 s), so none happens during a test: moving the test's clock past it is a holder
 * paused past its lease.
 */
const LEASE = 60_000;

type Backend = 'memory' | 'sqlite';
const sqliteDir = mkdtempSync(join(tmpdir(), 'tokenkeeper-replays-'));
after(() => rmSync(sqliteDir, { recursive: true, force: true }));
let sqliteFiles = 0;

async function openStore(backend: Backend, clock: FakeClock | undefined): Promise<TokenStore> {
  const options = clock ? { clock } : {};
  if (backend === 'memory') return new MemoryTokenStore(options);
  return SqliteTokenStore.open(join(sqliteDir, `replay-${++sqliteFiles}.db`), options);
}

/**
 * Two keepers (two processes) on one store, each through its own gates; leases are measured
 * on the test's clock (or the system clock); the Factus emulator rotates strictly.
 */
async function twoProcesses(backend: Backend, lockTtlMs = LEASE, leaseClock: 'test' | 'system' = 'test') {
  const clock = new FakeClock(Date.now());
  const shared = await openStore(backend, leaseClock === 'test' ? clock : undefined);
  const storeA = new GatedStore(shared);
  const storeB = new GatedStore(shared);
  const options = { encryptionKey: KEY, proactiveRefresh: false, lockTtlMs };
  const rig = await startFactusRig({
    clock,
    emulator: { rotation: 'strict' },
    keeper: { store: storeA, ...options },
  });
  const b = createKeeper({ store: storeB, clock, ...options });
  await rig.keeper.connect('acme', rig.spec);
  await clock.advance(STALE);
  const repository = new ConnectionRepository(shared, createSecretBox(KEY));
  return {
    clock,
    rig,
    a: rig.keeper,
    b,
    storeA,
    storeB,
    stored: async () => (await repository.load('acme'))?.record,
    async close() {
      await b.close();
      await rig.close();
      await shared.close();
    },
  };
}

for (const backend of ['memory', 'sqlite'] as const) {
  describe(`model replays on ${backend}: each broken variant’s counterexample against the real code`, () => {
    it('variant-no-fence: a holder paused past its lease cannot write while its successor holds it', async () => {
      const run = await twoProcesses(backend);
      try {
        const writesBefore = run.storeA.writes.length;
        // A takes the lease, rotates the refresh token at the provider, and stops before saving.
        const aSave = run.storeA.pause('put');
        const aRefresh = run.a.getAccessToken('acme');
        await aSave.reached;
        // A is paused past its lease; B takes the lease over and stops at its re-read under it.
        await run.clock.advance(LEASE + 1);
        const bReread = run.storeB.pause('get', 1);
        const bRefresh = run.b.getAccessToken('acme');
        await bReread.reached;
        // A resumes while B holds the lease: its fenced write is refused, every time it retries.
        aSave.release();
        await assert.rejects(aRefresh, (error: TokenkeeperError) => {
          assert.equal(error.code, 'STORE');
          assert.match(error.message, /discarded and not used/);
          return true;
        });
        assert.equal(run.storeA.writes.length, writesBefore, 'A wrote nothing during B’s lease');
        // B goes on alone: the refresh token A rotated is dead (invalid_grant), so B logs in again
        // with the saved password and is the only writer of its lease.
        bReread.release();
        const token = await bRefresh;
        assert.equal((await run.stored())?.secrets.tokens?.accessToken, token);
        assert.equal(run.rig.emulator.stats().invalidGrant, 1);
        const response = await run.b.fetch('acme', '/v1/numbering-ranges');
        assert.equal(response.status, 200);
        await response.arrayBuffer();
      } finally {
        await run.close();
      }
    });

    it('variant-no-reread: a process that took the lock after a sibling refreshed adopts, and spends no used refresh token', async () => {
      const run = await twoProcesses(backend);
      const eventsB = recordEvents(run.b);
      try {
        // B reads the stale record, then stops before asking for the lock.
        const bLock = run.storeB.pause('tryLock');
        const bRefresh = run.b.getAccessToken('acme');
        await bLock.reached;
        // A refreshes in full meanwhile: lock, rotation, save, release.
        const token = await run.a.getAccessToken('acme');
        // B takes the free lock at once; what it read before is stale now.
        bLock.release();
        assert.equal(await bRefresh, token);
        const stats = run.rig.emulator.stats();
        assert.equal(stats.tokenRequests.refresh_token, 1, 'one token request for both processes');
        assert.equal(stats.invalidGrant, 0, 'B never presented the refresh token A had used');
        assert.equal(eventsB.count('adopt'), 1);
      } finally {
        await run.close();
      }
    });

    it('variant-no-generation-check: a refresh that lost its lease does not write over a newer login', async () => {
      const run = await twoProcesses(backend);
      try {
        // B logs in again: the provider answers its password grant now; B stops before the lock.
        const bLock = run.storeB.pause('tryLock');
        const relogin = run.b.connect('acme', { ...run.rig.spec, scope: 'new-scope' });
        await bLock.reached;
        // A's tokens are requested after B's: newer by obtainedAt, but of the older login.
        await run.clock.advance(1_000);
        const aSave = run.storeA.pause('put');
        const aRefresh = run.a.getAccessToken('acme');
        await aSave.reached;
        // A is paused past its lease; B's login takes the lock and saves its new generation.
        await run.clock.advance(LEASE + 1);
        bLock.release();
        await relogin;
        const login = await run.stored();
        assert.equal(login?.scope, 'new-scope');
        // A resumes: its write is refused, and the newer login wins over A's newer tokens.
        aSave.release();
        const token = await aRefresh;
        const after = await run.stored();
        assert.equal(after?.generation, login?.generation, 'the newer login stands');
        assert.equal(after?.scope, 'new-scope');
        assert.equal(token, login?.secrets.tokens?.accessToken, 'A hands out the new login’s token');
        assert.equal((await run.a.info('acme')).scope, 'new-scope');
      } finally {
        await run.close();
      }
    });

    it('variant-no-renewal: a token request slower than the lease keeps the lease, and the waiter adopts', async () => {
      // Leases of 600 ms on the system clock, renewed every 200 ms; the token request takes 1.8 s.
      const run = await twoProcesses(backend, 600, 'system');
      try {
        run.rig.emulator.faults.add({ point: 'token', delayMs: 1_800, count: 1 });
        const aRefresh = run.a.getAccessToken('acme');
        while ((run.rig.emulator.stats().faults.token ?? 0) === 0) await sleep(10);
        // A's request is at the provider; B wants a token too and must wait for A's lease.
        const bRefresh = run.b.getAccessToken('acme');
        const [a, b] = await Promise.all([aRefresh, bRefresh]);
        assert.equal(a, b);
        const stats = run.rig.emulator.stats();
        assert.equal(stats.tokenRequests.refresh_token, 1);
        assert.equal(stats.invalidGrant, 0, 'B did not take over a lease A was still using');
      } finally {
        await run.close();
      }
    });
  });

  describe(`variant-no-delete-fence on ${backend}, found by the model: deletes are fenced too`, () => {
    for (const command of ['logout', 'forget'] as const) {
      it(`a ${command} paused past its lease does not delete a newer login saved meanwhile`, async () => {
        const run = await twoProcesses(backend);
        try {
          // A logs out: takes the lease, reads the connection, and stops before deleting it.
          const aDelete = run.storeA.pause('delete');
          const leaving = command === 'logout' ? run.a.logout('acme') : run.a.forget('acme');
          await aDelete.reached;
          // A is paused past its lease; B (another host) logs in again and saves a new generation.
          await run.clock.advance(LEASE + 1);
          await run.b.connect('acme', { ...run.rig.spec, scope: 'new-scope' });
          const login = await run.stored();
          assert.equal(login?.scope, 'new-scope');
          // A resumes: its delete is fenced out, and it says so.
          aDelete.release();
          await assert.rejects(leaving, (error: TokenkeeperError) => {
            assert.equal(error.code, 'LOCK_TIMEOUT');
            assert.match(error.message, /nothing was deleted/);
            const again =
              command === 'logout' ? 'tokenkeeper logout acme`' : 'tokenkeeper logout acme --local-only`';
            assert.ok(error.message.includes(`Run \`${again} again`), error.message);
            return true;
          });
          const after = await run.stored();
          assert.equal(after?.generation, login?.generation, 'the newer login stands');
          assert.equal((await run.b.info('acme')).scope, 'new-scope');
        } finally {
          await run.close();
        }
      });
    }
  });
}
