/**
 * A SQLite store whose file another process keeps write-locked: its writes wait the lock
 * out on timers, not in SQLite's busy handler on the event loop, and give up at the busy
 * timeout with an error worth retrying. Each test releases the lock from this process's
 * event loop, so a write that blocked the loop would keep the lock held until it failed.
 */

import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { StoreError } from '../../src/errors.js';
import { SqliteTokenStore } from '../../src/store/sqlite-store.js';

const root = mkdtempSync(join(tmpdir(), 'tokenkeeper-sqlite-busy-'));
after(() => rmSync(root, { recursive: true, force: true }));

let counter = 0;
function freshPath(): string {
  counter += 1;
  return join(root, `store-${counter}.db`);
}

const holderPath = fileURLToPath(new URL('../fixtures/sqlite-write-lock-holder.js', import.meta.url));

/** Another process holding the file's write lock, with a row of its own written in that transaction. */
class LockHolder {
  readonly #lines: AsyncIterator<string>;

  private constructor(readonly child: ChildProcessWithoutNullStreams) {
    this.#lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  }

  static async start(path: string): Promise<LockHolder> {
    const holder = new LockHolder(spawn(process.execPath, [holderPath, path], { stdio: 'pipe' }));
    assert.equal(await holder.#nextLine(), 'held');
    return holder;
  }

  async #nextLine(): Promise<string | undefined> {
    const { value, done } = await this.#lines.next();
    return done ? undefined : value;
  }

  async commit(): Promise<void> {
    this.child.stdin.write('commit\n');
    assert.equal(await this.#nextLine(), 'committed');
  }

  /** Dies holding the lock, as a crash would: the kernel drops its file locks, its transaction is lost. */
  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGKILL');
    await exited;
  }
}

/** Counts timer turns of the event loop until stopped. */
function countTurns(): { stop: () => number } {
  let turns = 0;
  const ticker = setInterval(() => turns++, 5);
  return {
    stop: () => {
      clearInterval(ticker);
      return turns;
    },
  };
}

/** A store with a row, a held lock, a due entry and a counted budget: every kind of write used once. */
async function warmedStore(path: string, options: { busyTimeoutMs?: number } = {}) {
  const store = await SqliteTokenStore.open(path, options);
  await store.put('acme', { n: 1 }, 's1', 0);
  await store.put('old', {}, 's', 0);
  assert.equal(await store.tryLock('held', 'me', 60_000), true);
  await store.dueIndex.scheduleDue('acme', 1);
  assert.equal(await store.rateLimits.take('budget', 10, 60_000), 0);
  return store;
}

describe('SqliteTokenStore when another process holds the write lock', () => {
  it('waits it out with every kind of write, in order, while the event loop goes on', async () => {
    const path = freshPath();
    const store = await warmedStore(path);
    const holder = await LockHolder.start(path);
    const turns = countTurns();
    try {
      const writes = Promise.all([
        store.put('acme', { n: 2 }, 's2', 1),
        store.delete('old'),
        store.tryLock('new', 'me', 60_000),
        // In the order asked for, though each waits on its own timer.
        store.renewLock('held', 'me', 60_000),
        store.unlock('held', 'me'),
        store.tryLock('held', 'other', 60_000),
        store.renewLock('held', 'me', 60_000),
        store.unlock('held', 'other'),
        store.dueIndex.claimDue(Date.now(), 10, 60_000),
        store.dueIndex.heartbeat('daemon-1', Date.now(), 60_000),
        store.rateLimits.take('budget', 10, 60_000),
      ]);
      // Reads go on beside the lock (WAL).
      assert.equal((await store.get('acme'))?.version, 1);
      await sleep(300); // a timer: it fires only if no write blocks the event loop
      await holder.commit();
      const results = await writes;
      assert.ok(turns.stop() > 0);
      assert.deepEqual(results, [2, true, true, true, true, true, false, true, ['acme'], undefined, 0]);
      assert.deepEqual((await store.get('acme'))?.meta, { n: 2 });
      assert.equal(await store.get('old'), undefined);
      assert.equal((await store.get('foreign'))?.version, 1, "the holder's own write landed too");
      assert.deepEqual(await store.dueIndex.liveDaemons(Date.now()), ['daemon-1']);
      // 10 a minute is 2 per sub-window of 15 s (fixed-windows.ts). The budget's second point
      // went to the shared counter, not to this process's own count: another process on the
      // file finds the sub-window spent.
      const other = await SqliteTokenStore.open(path);
      try {
        assert.ok((await other.rateLimits.take('budget', 10, 60_000)) > 0);
      } finally {
        await other.close();
      }
    } finally {
      turns.stop();
      await holder.kill();
      await store.close();
    }
  });

  it("goes on when the holder is killed mid-transaction, without the holder's write", async () => {
    const path = freshPath();
    const store = await warmedStore(path);
    const holder = await LockHolder.start(path);
    try {
      const write = store.put('acme', { n: 2 }, 's2', 1);
      await sleep(200);
      await holder.kill();
      assert.equal(await write, 2);
      assert.equal(await store.get('foreign'), undefined);
    } finally {
      await holder.kill();
      await store.close();
    }
  });

  it('lands a write waiting out the lock before it closes', async () => {
    const path = freshPath();
    const store = await warmedStore(path);
    const holder = await LockHolder.start(path);
    try {
      const locking = store.tryLock('asked-before-closing', 'me', 60_000);
      const closing = store.close();
      await sleep(200);
      await holder.commit();
      assert.equal(await locking, true);
      await closing;
      const reopened = await SqliteTokenStore.open(path);
      try {
        assert.equal(await reopened.tryLock('asked-before-closing', 'someone else', 60_000), false);
      } finally {
        await reopened.close();
      }
    } finally {
      await holder.kill();
      await store.close();
    }
  });

  it('gives up at the busy timeout with a STORE error worth retrying, having kept the loop turning', async () => {
    const path = freshPath();
    const store = await warmedStore(path, { busyTimeoutMs: 200 });
    const holder = await LockHolder.start(path);
    const turns = countTurns();
    try {
      const write = store.put('acme', { n: 2 }, 's2', 1);
      // Asked for in the same moment, queued behind it: their busy timeouts ran out with its
      // own, so each fails on its first try, before the holder can commit.
      const queued = ['a', 'b', 'c'].map((name) => store.tryLock(name, 'me', 60_000));
      const failure = await write.then(
        () => 'the write went through a held lock',
        (error: unknown) => error,
      );
      const turnsWhileWaiting = turns.stop();
      const committed = holder.commit();
      assert.ok(failure instanceof StoreError, String(failure));
      assert.equal(failure.code, 'STORE');
      assert.equal(failure.kind, undefined, 'a busy store is not unusable: try again');
      assert.match(
        failure.message,
        /failed to write "acme" \(SQLITE_BUSY.*another process kept the database busy too long; try again\./,
      );
      assert.ok(turnsWhileWaiting > 0, 'timers ran while the write waited');
      for (const outcome of await Promise.allSettled(queued)) {
        assert.equal(outcome.status, 'rejected');
        assert.match(String(outcome.reason), /busy too long/);
      }
      await committed;
      assert.deepEqual(await store.get('acme'), { name: 'acme', meta: { n: 1 }, sealed: 's1', version: 1 });
      assert.equal(
        await store.put('acme', { n: 2 }, 's2', 1),
        2,
        'the same write succeeds once the lock is free',
      );
    } finally {
      turns.stop();
      await holder.kill();
      await store.close();
    }
  });
});
