import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FakeClock } from '../../src/clock.js';
import type { StoreError } from '../../src/errors.js';
import { CHANGE_LOG_ROWS } from '../../src/store/sqlite-changes.js';
import { loadSqliteDriver } from '../../src/store/sqlite-driver.js';
import {
  SQLITE_LIST_PAGE_ROWS,
  SQLITE_SCHEMA_VERSION,
  SqliteTokenStore,
} from '../../src/store/sqlite-store.js';
import type { StoreChange } from '../../src/store/types.js';

const Database = await loadSqliteDriver();

import { runTokenStoreContract } from './contract.js';

const root = mkdtempSync(join(tmpdir(), 'tokenkeeper-sqlite-'));
after(() => rmSync(root, { recursive: true, force: true }));

let counter = 0;
function freshPath(): string {
  counter += 1;
  return join(root, `store-${counter}`, 'tokenkeeper.db');
}

/** Waits, at most 5 s, for `done`. */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
}

const posix = process.platform !== 'win32';
function mode(path: string): number {
  return statSync(path).mode & 0o777;
}

runTokenStoreContract('sqlite', () => SqliteTokenStore.open(freshPath()), { changeFeed: true });

describe('SqliteTokenStore', () => {
  it('creates its directories 0700 and its files 0600, -wal and -shm included', {
    skip: !posix,
  }, async () => {
    const dir = join(root, 'modes', 'nested');
    const path = join(dir, 'tokenkeeper.db');
    const store = await SqliteTokenStore.open(path);
    try {
      await store.put('acme', { a: 1 }, 's', 0);
      assert.equal(store.location, path);
      assert.equal(mode(join(root, 'modes')), 0o700);
      assert.equal(mode(dir), 0o700);
      assert.equal(mode(path), 0o600);
      assert.ok(existsSync(`${path}-wal`), 'WAL mode keeps a -wal file while open');
      assert.equal(mode(`${path}-wal`), 0o600);
      assert.equal(mode(`${path}-shm`), 0o600);
    } finally {
      await store.close();
    }
  });

  it('creates the file 0600 whatever the umask', { skip: !posix }, async () => {
    const previous = process.umask(0o000);
    try {
      const path = freshPath();
      const store = await SqliteTokenStore.open(path);
      await store.put('acme', {}, 's', 0);
      assert.equal(mode(path), 0o600);
      assert.equal(mode(`${path}-wal`), 0o600);
      assert.equal(mode(join(path, '..')), 0o700);
      await store.close();
    } finally {
      process.umask(previous);
    }
  });

  it('uses WAL mode and records its schema version', async () => {
    const path = freshPath();
    const store = await SqliteTokenStore.open(path);
    await store.close();
    const db = new Database(path, { readonly: true });
    try {
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      assert.equal(db.pragma('user_version', { simple: true }), SQLITE_SCHEMA_VERSION);
      const tables = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .pluck()
        .all();
      assert.deepEqual(tables, [
        'changes',
        'connections',
        'daemons',
        'due',
        'locks',
        'rate_limits',
        'retired_versions',
        'sqlite_sequence',
      ]);
    } finally {
      db.close();
    }
  });

  it('keeps data across reopening', async () => {
    const path = freshPath();
    const first = await SqliteTokenStore.open(path);
    await first.put('acme', { a: 1 }, 's', 0);
    await first.close();
    const second = await SqliteTokenStore.open(path);
    assert.deepEqual(await second.get('acme'), { name: 'acme', meta: { a: 1 }, sealed: 's', version: 1 });
    await second.close();
  });

  it('upgrades a database of schema 1 in place, keeping its rows and locks', async () => {
    const path = join(root, 'schema-1.db');
    const db = new Database(path);
    db.exec(`CREATE TABLE connections (name TEXT PRIMARY KEY NOT NULL, meta TEXT NOT NULL,
               sealed TEXT NOT NULL, version INTEGER NOT NULL, updated_at INTEGER NOT NULL);
             CREATE TABLE locks (name TEXT PRIMARY KEY NOT NULL, owner TEXT NOT NULL, expires_at INTEGER NOT NULL);
             INSERT INTO connections VALUES ('old', '{"a":1}', 's', 7, 0);
             INSERT INTO locks VALUES ('old', 'old-owner', ${Date.now() + 60_000});`);
    db.pragma('user_version = 1');
    db.close();
    const store = await SqliteTokenStore.open(path);
    const heard: StoreChange[] = [];
    const feed = await store.watchChanges((change) => heard.push(change));
    try {
      assert.deepEqual(await store.get('old'), { name: 'old', meta: { a: 1 }, sealed: 's', version: 7 });
      // A lock row of the old schema names no process: its lease is waited out as before.
      assert.equal(await store.tryLock('old', 'new-owner', 1000), false);
      assert.equal(await store.delete('old'), true);
      assert.equal(await store.put('old', {}, 's', 0), 8);
      // The upgrade added the log of changes: the delete and the new write are announced.
      await until(() => heard.length >= 2);
      assert.deepEqual(heard, [
        { name: 'old', version: 7, deleted: true },
        { name: 'old', version: 8, deleted: false },
      ]);
    } finally {
      await feed.close();
      await store.close();
    }
  });

  it('announces what another connection to the file writes, as another process would', async () => {
    const path = freshPath();
    const watcher = await SqliteTokenStore.open(path);
    const writer = await SqliteTokenStore.open(path);
    const heard: StoreChange[] = [];
    const feed = await watcher.watchChanges((change) => heard.push(change));
    try {
      assert.equal(await writer.put('acme', { n: 1 }, 's1', 0), 1);
      assert.equal(await writer.put('acme', { n: 2 }, 's2', 1), 2);
      assert.equal(await writer.delete('acme'), true);
      await until(() => heard.length >= 3);
      assert.deepEqual(heard, [
        { name: 'acme', version: 1, deleted: false },
        { name: 'acme', version: 2, deleted: false },
        { name: 'acme', version: 2, deleted: true },
      ]);
    } finally {
      await feed.close();
      await Promise.all([watcher.close(), writer.close()]);
    }
  });

  it('keeps only the newest changes in its log, and a watcher reads past a long run of them', async () => {
    const path = freshPath();
    const store = await SqliteTokenStore.open(path);
    const heard: StoreChange[] = [];
    const missedAt: number[] = [];
    const feed = await store.watchChanges(
      (change) => heard.push(change),
      () => missedAt.push(heard.length),
    );
    const writes = CHANGE_LOG_ROWS + 500;
    const db = new Database(path);
    try {
      // One transaction, as fast as another process could write them.
      const insert = db.prepare(
        "INSERT INTO connections (name, meta, sealed, version, updated_at) VALUES (?, '{}', 's', 1, 0)",
      );
      db.transaction(() => {
        for (let i = 0; i < writes; i++) insert.run(`c${String(i).padStart(5, '0')}`);
      })();
      const logged = db
        .prepare('SELECT COUNT(*) AS rows, MAX(seq) - MIN(seq) + 1 AS span FROM changes')
        .get();
      assert.deepEqual(logged, { rows: CHANGE_LOG_ROWS, span: CHANGE_LOG_ROWS });
      await until(() => heard.length >= CHANGE_LOG_ROWS);
      // The oldest 500 fell off the log before the watcher's next read; the rest come in order.
      assert.equal(heard.length, CHANGE_LOG_ROWS);
      assert.deepEqual(heard[0], { name: 'c00500', version: 1, deleted: false });
      assert.deepEqual(missedAt, [0], 'the watcher said it missed some, once, before the rest');
      assert.deepEqual(heard.at(-1), {
        name: `c${String(writes - 1).padStart(5, '0')}`,
        version: 1,
        deleted: false,
      });
    } finally {
      db.close();
      await feed.close();
      await store.close();
    }
  });

  it('refuses a database written by a newer tokenkeeper', async () => {
    const path = freshPath();
    await (await SqliteTokenStore.open(path)).close();
    const db = new Database(path);
    db.pragma(`user_version = ${SQLITE_SCHEMA_VERSION + 1}`);
    db.close();
    await assert.rejects(SqliteTokenStore.open(path), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'STORE');
      assert.match(error.message, /newer tokenkeeper; upgrade/);
      return true;
    });
  });

  it('says so when the file is not a database', async () => {
    const path = join(root, 'not-a-db.db');
    writeFileSync(path, 'hello, this is not SQLite '.repeat(100));
    await assert.rejects(SqliteTokenStore.open(path), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'STORE');
      assert.match(error.message, /not-a-db\.db/);
      assert.match(error.message, /not a tokenkeeper database/);
      assert.equal((error as StoreError).kind, 'unusable');
      return true;
    });
  });

  it('measures leases with the injected clock', async () => {
    const clock = new FakeClock();
    const store = await SqliteTokenStore.open(freshPath(), { clock });
    try {
      assert.equal(await store.tryLock('acme', 'a', 1000), true);
      await clock.advance(999);
      assert.equal(await store.tryLock('acme', 'b', 1000), false);
      await clock.advance(1);
      assert.equal(await store.tryLock('acme', 'b', 1000), true);
    } finally {
      await store.close();
    }
  });

  it('commits writes that arrive together once, checking each compare-and-set on its own', async () => {
    const store = await SqliteTokenStore.open(freshPath());
    try {
      await store.put('kept', { n: 0 }, 's', 0);
      // One turn: a shared commit; two writers expect the same version, only the first wins.
      const results = await Promise.all([
        store.put('kept', { n: 1 }, 's1', 1),
        store.put('kept', { n: 2 }, 's2', 1),
        store.put('new', { n: 1 }, 's', 0),
        store.put('new', { n: 2 }, 's', 0),
      ]);
      assert.deepEqual(results, [2, undefined, 1, undefined]);
      assert.deepEqual(await store.get('kept'), { name: 'kept', meta: { n: 1 }, sealed: 's1', version: 2 });
      assert.deepEqual((await store.get('new'))?.meta, { n: 1 });
    } finally {
      await store.close();
    }
  });

  it('lands a write asked for before a delete ahead of the delete, and one asked for before closing', async () => {
    const path = freshPath();
    const store = await SqliteTokenStore.open(path);
    const written = store.put('gone', {}, 's', 0);
    assert.equal(await store.delete('gone'), true, 'the delete found the row written before it');
    assert.equal(await written, 1);
    assert.equal(await store.get('gone'), undefined);
    const last = store.put('kept', { last: true }, 's', 0);
    await store.close();
    assert.equal(await last, 1);
    const reopened = await SqliteTokenStore.open(path);
    try {
      assert.deepEqual((await reopened.get('kept'))?.meta, { last: true });
    } finally {
      await reopened.close();
    }
  });

  it('lists every row in name order a page at a time, letting the event loop turn between pages', async () => {
    const store = await SqliteTokenStore.open(':memory:');
    try {
      // Two full pages and one row: the last page is short, and a page boundary falls on a full page.
      const names = Array.from({ length: 2 * SQLITE_LIST_PAGE_ROWS + 1 }, (_, i) => `c${i}`);
      await Promise.all(names.map((name, i) => store.put(name, { i }, `sealed-${i}`, 0)));
      const inOrder = [...names].sort();

      let turns = 0;
      const countTurns = () => {
        turns++;
        if (turns < 10) setImmediate(countTurns);
      };
      setImmediate(countTurns);
      const listed = await store.listMeta();
      assert.ok(turns >= 2, `the event loop turned between the 3 pages (${turns} turns)`);
      assert.deepEqual(
        listed.map((row) => row.name),
        inOrder,
      );
      assert.deepEqual(listed[0], { name: 'c0', meta: { i: 0 }, version: 1 });

      const full = await store.list();
      assert.deepEqual(
        full.map((row) => row.name),
        inOrder,
      );
      assert.equal(full.at(-1)?.sealed, `sealed-${names.indexOf(inOrder.at(-1) as string)}`);
    } finally {
      await store.close();
    }
  });

  it('opens in memory with ":memory:"', async () => {
    const store = await SqliteTokenStore.open(':memory:');
    await store.put('acme', {}, 's', 0);
    assert.equal((await store.get('acme'))?.version, 1);
    await store.close();
  });
});

// ---------------------------------------------------------------- across processes

const helperPath = fileURLToPath(new URL('./sqlite-race-helper.js', import.meta.url));

interface Reply {
  id?: number;
  result?: unknown;
  error?: { code?: string; message?: string };
  ready?: boolean;
}

class StoreProcess {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #pending = new Map<
    number,
    { resolve: (value: unknown) => void; reject: (error: Error) => void }
  >();
  #nextId = 1;
  #stderr = '';

  private constructor(child: ChildProcessWithoutNullStreams) {
    this.#child = child;
  }

  static async start(path: string): Promise<StoreProcess> {
    const child = spawn(process.execPath, ['--enable-source-maps', helperPath, path], { stdio: 'pipe' });
    const proc = new StoreProcess(child);
    child.stderr.on('data', (chunk: Buffer) => {
      proc.#stderr += chunk.toString();
    });
    const ready = new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => {
        const failure = new Error(`store process exited with ${code}: ${proc.#stderr}`);
        reject(failure);
        for (const pending of proc.#pending.values()) pending.reject(failure);
      });
      createInterface({ input: child.stdout }).on('line', (line) => {
        const reply = JSON.parse(line) as Reply;
        if (reply.ready) return resolve();
        const pending = proc.#pending.get(reply.id!);
        proc.#pending.delete(reply.id!);
        if (reply.error)
          pending?.reject(Object.assign(new Error(reply.error.message), { code: reply.error.code }));
        else pending?.resolve(reply.result);
      });
    });
    await ready;
    return proc;
  }

  call(op: string, args: unknown[], at?: number): Promise<unknown> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#child.stdin.write(`${JSON.stringify({ id, op, args, at })}\n`);
    });
  }

  /** Dies at once, as a crash would: nothing is closed or released. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const closed = this.call('close', []).catch(() => {});
    await Promise.race([closed, exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
    child.stdin.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}

describe('SqliteTokenStore across processes', () => {
  async function withProcesses(
    count: number,
    test: (path: string, procs: StoreProcess[]) => Promise<void>,
  ): Promise<void> {
    const path = freshPath();
    // All start together, so creating the file and the schema is raced too.
    const started = await Promise.allSettled(Array.from({ length: count }, () => StoreProcess.start(path)));
    const procs = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) {
      await Promise.all(procs.map((proc) => proc.stop()));
      throw failed.reason;
    }
    try {
      await test(path, procs);
    } finally {
      await Promise.all(procs.map((proc) => proc.stop()));
    }
  }

  it('takes over at once the lock of a holder that died on this host, and respects a live one', () =>
    withProcesses(2, async (path, [dying, living]) => {
      assert.equal(await dying!.call('tryLock', ['dead-holder', 'dying-owner', 60_000]), true);
      assert.equal(await living!.call('tryLock', ['live-holder', 'living-owner', 60_000]), true);
      await dying!.kill();
      const store = await SqliteTokenStore.open(path);
      try {
        // The dead holder's 60 s lease is not waited out: its process is gone.
        assert.equal(await store.tryLock('dead-holder', 'successor', 60_000), true);
        assert.equal(await store.tryLock('live-holder', 'successor', 60_000), false);
        assert.equal(await living!.call('tryLock', ['dead-holder', 'living-owner', 60_000]), false);
      } finally {
        await store.close();
      }
    }));

  it('gives a lock to exactly one of 4 processes racing for it, again and again', () =>
    withProcesses(4, async (_path, procs) => {
      for (let round = 0; round < 5; round++) {
        const at = Date.now() + 150;
        const results = await Promise.all(
          procs.map((proc, i) => proc.call('tryLock', [`race-${round}`, `owner-${i}`, 60_000], at)),
        );
        assert.equal(results.filter((r) => r === true).length, 1, JSON.stringify(results));
        const winner = results.indexOf(true);
        const released = await Promise.all(
          procs.map((proc, i) => proc.call('unlock', [`race-${round}`, `owner-${i}`])),
        );
        assert.deepEqual(
          released,
          procs.map((_, i) => i === winner),
        );
      }
    }));

  it('lets exactly one of 4 processes win a compare-and-set', () =>
    withProcesses(4, async (_path, procs) => {
      assert.equal(await procs[0]!.call('put', ['acme', { writer: 'none' }, 's0', 0]), 1);
      const at = Date.now() + 150;
      const results = await Promise.all(
        procs.map((proc, i) => proc.call('put', ['acme', { writer: i }, `s${i}`, 1], at)),
      );
      assert.deepEqual(
        results.filter((r) => r !== null),
        [2],
      );
      const winner = results.indexOf(2);
      for (const proc of procs) {
        assert.deepEqual(await proc.call('get', ['acme']), {
          name: 'acme',
          meta: { writer: winner },
          sealed: `s${winner}`,
          version: 2,
        });
      }
    }));

  it('loses no update when 4 processes increment one counter', () =>
    withProcesses(4, async (_path, procs) => {
      assert.equal(await procs[0]!.call('put', ['counter', { count: 0 }, 's', 0]), 1);
      const at = Date.now() + 150;
      await Promise.all(procs.map((proc) => proc.call('increment', ['counter', 25], at)));
      const final = (await procs[3]!.call('get', ['counter'])) as {
        meta: { count: number };
        version: number;
      };
      assert.equal(final.meta.count, 100);
      assert.equal(final.version, 101);
    }));

  it('splits due work between 4 processes: each name is claimed by exactly one', () =>
    withProcesses(4, async (path, procs) => {
      const names = Array.from({ length: 400 }, (_, i) => `due-${String(i).padStart(3, '0')}`);
      const store = await SqliteTokenStore.open(path);
      try {
        for (const [i, name] of names.entries()) await store.dueIndex.scheduleDue(name, 1_000 + i);
      } finally {
        await store.close();
      }
      const at = Date.now() + 150;
      const shares = (await Promise.all(
        procs.map((proc) => proc.call('claimAll', [10_000, 3, 60_000], at)),
      )) as string[][];
      const claimed = shares.flat();
      assert.equal(new Set(claimed).size, claimed.length, 'no name claimed twice');
      assert.deepEqual([...claimed].sort(), names);
    }));

  it('shows what one process writes to another at once, both ways', () =>
    withProcesses(1, async (path, [child]) => {
      const store = await SqliteTokenStore.open(path);
      try {
        // Read first, so that any cached state would be stale.
        assert.equal(await store.get('acme'), undefined);
        assert.equal(await child!.call('put', ['acme', { from: 'child' }, 'c', 0]), 1);
        assert.deepEqual(await store.get('acme'), {
          name: 'acme',
          meta: { from: 'child' },
          sealed: 'c',
          version: 1,
        });

        assert.equal(await store.put('acme', { from: 'parent' }, 'p', 1), 2);
        assert.deepEqual(await child!.call('get', ['acme']), {
          name: 'acme',
          meta: { from: 'parent' },
          sealed: 'p',
          version: 2,
        });

        assert.equal(await store.tryLock('acme', 'parent', 60_000), true);
        assert.equal(await child!.call('tryLock', ['acme', 'child', 60_000]), false);
        assert.equal(await child!.call('unlock', ['acme', 'child']), false);
        assert.equal(await store.unlock('acme', 'parent'), true);
        assert.equal(await child!.call('tryLock', ['acme', 'child', 60_000]), true);
        assert.equal(await store.tryLock('acme', 'parent', 60_000), false);
        if (posix) {
          assert.equal(mode(path), 0o600);
          assert.equal(mode(`${path}-wal`), 0o600);
          assert.equal(mode(`${path}-shm`), 0o600);
        }
      } finally {
        await store.close();
      }
    }));
});
