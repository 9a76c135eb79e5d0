/**
 * The daemon on the real PostgreSQL and Redis stores, beside another keeper on the same
 * store: it keeps the connection fresh and sees what the other one adds and removes (on
 * SQLite too, through another connection to the file, as another process has). And a
 * fleet: two daemons on one store split the refreshes through the store's due index, each
 * asked of the provider once, and a claim whose daemon died comes back to the other one.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import pg from 'pg';
import { startFactusEmulator } from '../../src/emulators/factus/factus-emulator.js';
import type { TokenkeeperError } from '../../src/errors.js';
import { createKeeper } from '../../src/keeper.js';
import { SERVE_DEFAULTS, startDaemon } from '../../src/serve/daemon.js';
import { encryptionKeyId, generateEncryptionKey } from '../../src/store/encryption.js';
import { PostgresTokenStore } from '../../src/store/postgres-store.js';
import { RedisTokenStore } from '../../src/store/redis-store.js';
import { SqliteTokenStore } from '../../src/store/sqlite-store.js';
import type { TokenStore } from '../../src/store/types.js';
import { factusSpec } from '../helpers/factus.js';
import { DeafenableFeedStore } from '../helpers/forwarding-store.js';
import {
  describeWithServer,
  dropPostgresListener,
  dropRedisSubscriber,
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

/**
 * With no watch tick for an hour, the store's own announcements are all the daemon has: it
 * sees a login, hands out the token another process's refresh saved (the one it held is
 * revoked: strict rotation), and drops a logout, each within seconds.
 */
async function hearsChangesAsTheyAreMade(store: TokenStore, cliStore?: TokenStore): Promise<void> {
  const rig = await startServeRig({
    store,
    ...(cliStore ? { cliStore } : {}),
    factus: { rotation: 'strict' },
    daemon: { watchIntervalMs: 3_600_000 },
  });
  const tokenFromDaemon = async () => {
    const response = await rig.call('/v1/connections/acme/token');
    assert.equal(response.status, 200);
    return ((await response.json()) as { access_token: string }).access_token;
  };
  try {
    await connectFactus(rig, 'acme');
    await eventually(() => rig.daemon.keepAlive.get('acme') !== undefined, 'the login is heard', 3_000);
    const before = await tokenFromDaemon();
    await rig.advance(5_000, 5_000); // older than the least interval between refreshes
    await rig.cli.refresh('acme');
    const rotated = await rig.cli.getAccessToken('acme');
    assert.notEqual(rotated, before);
    await eventually(async () => (await tokenFromDaemon()) === rotated, 'the refresh is heard', 3_000);
    await rig.cli.logout('acme');
    await eventually(() => rig.daemon.keepAlive.get('acme') === undefined, 'the logout is heard', 3_000);
  } finally {
    await rig.close();
  }
}

/**
 * Every row is listed at the watch interval until the daemon hears one of its own refreshes
 * announced; then only rarely, while the feed tells it of another process's login. A refresh
 * whose announcement never comes (the feed gone deaf) brings the listing back at its pace,
 * and the listing then finds the logout the feed no longer tells.
 */
async function listsRarelyWhileItHearsItself(store: TokenStore, cliStore?: TokenStore): Promise<void> {
  // A feed without echo: only the daemon's own refreshes can prove it.
  const { rig, tapped, listingsOver } = await startListingRig(store, cliStore, {
    echoes: false,
    liveFeedWatchIntervalMs: 3_600_000,
  });
  try {
    await connectFactus(rig, 'acme');
    await eventually(() => rig.daemon.keepAlive.get('acme') !== undefined, 'the login is seen');
    const unproven = await listingsOver(1_000);
    assert.ok(unproven >= 2, `listed ${unproven} times in 1 s before any refresh was heard`);

    await rig.advance(600_000, 60_000); // the daemon refreshes acme: a probe of the feed
    await eventually(async () => (await listingsOver(300)) === 0, 'the listing pauses');
    await connectFactus(rig, 'second');
    await eventually(() => rig.daemon.keepAlive.get('second') !== undefined, 'the feed tells of a login');
    assert.equal(await listingsOver(500), 0, 'no listing while the feed is heard');

    tapped.deaf = true;
    await rig.advance(600_000, 60_000); // refreshed again, never heard
    await eventually(async () => (await listingsOver(300)) >= 2, 'the listing is back at its pace');
    await rig.cli.logout('second');
    await eventually(() => rig.daemon.keepAlive.get('second') === undefined, 'the listing finds the logout');
  } finally {
    await rig.close();
  }
}

/**
 * A daemon watching every 50 ms on a store whose listings are counted and whose feed can be
 * deafened; a proof of the feed lasts `liveFeedWatchIntervalMs`.
 */
async function startListingRig(
  store: TokenStore,
  cliStore: TokenStore | undefined,
  feed: { echoes: boolean; liveFeedWatchIntervalMs: number; watchIntervalMs?: number },
) {
  const tapped = new DeafenableFeedStore(store, feed.echoes);
  const rig = await startServeRig({
    store: tapped,
    cliStore: cliStore ?? store,
    factus: { accessTtlSeconds: 600 },
    daemon: {
      watchIntervalMs: feed.watchIntervalMs ?? 50,
      liveFeedWatchIntervalMs: feed.liveFeedWatchIntervalMs,
      feedProofMs: 500,
    },
  });
  const listingsOver = async (ms: number) => {
    const before = tapped.listings;
    await sleep(ms);
    return tapped.listings - before;
  };
  return { rig, tapped, listingsOver };
}

/**
 * With nothing to refresh for minutes, the daemon proves its feed by echo, so it lists every
 * row once per slow interval only; deaf, the echo goes unheard, the proof runs out, and the
 * listing is back at its pace and finds a logout the feed did not tell.
 */
async function listsRarelyWhenIdleThroughItsEcho(store: TokenStore, cliStore?: TokenStore): Promise<void> {
  const { rig, tapped, listingsOver } = await startListingRig(store, cliStore, {
    echoes: true,
    liveFeedWatchIntervalMs: 2_000,
  });
  try {
    await connectFactus(rig, 'acme');
    await eventually(() => rig.daemon.keepAlive.get('acme') !== undefined, 'the login is seen');
    // The token is good for 10 minutes of a clock that stands still: nothing is refreshed.
    await eventually(async () => (await listingsOver(300)) === 0, 'the listing pauses');
    const echoes = tapped.echoesSent;
    // The proof lasts 2 s and is renewed before it runs out: at most one listing per 2 s.
    assert.ok((await listingsOver(3_000)) <= 2, 'listed at the slow pace');
    assert.ok(tapped.echoesSent > echoes, 'the echo was sent again before the proof ran out');
    assert.equal(rig.daemon.keepAlive.get('acme')?.failures, 0);

    tapped.deaf = true;
    await eventually(async () => (await listingsOver(300)) >= 2, 'the listing is back at its pace');
    await rig.cli.logout('acme');
    await eventually(() => rig.daemon.keepAlive.get('acme') === undefined, 'the listing finds the logout');
  } finally {
    await rig.close();
  }
}

/**
 * The echo sent at start comes back while the first listing runs (SQLite reads its log every
 * 100 ms), so the watch ticks that follow list nothing: one listing, where the first tick
 * would otherwise list every row a second time before its own echo came back.
 */
async function listsOnceAtStart(store: TokenStore, cliStore?: TokenStore): Promise<void> {
  const { rig, tapped, listingsOver } = await startListingRig(store, cliStore, {
    echoes: true,
    liveFeedWatchIntervalMs: 60_000,
    watchIntervalMs: 400,
  });
  try {
    assert.equal(tapped.listings, 1, 'the listing at start');
    assert.equal(await listingsOver(1_500), 0, 'no watch tick listed again');
    assert.ok(tapped.echoesSent >= 1);
  } finally {
    await rig.close();
  }
}

/**
 * The feed is heard (the daemon heard its own refresh), so every row is listed only hourly.
 * Then the feed's connection is dropped, and another process logs out while it is down: the
 * feed, back, says it may have missed changes, and the next watch tick's listing finds the
 * logout.
 */
async function findsWhatTheFeedMissedWhileDown(store: TokenStore, dropFeed: () => Promise<void>) {
  const tapped = new DeafenableFeedStore(store);
  const rig = await startServeRig({
    store: tapped,
    cliStore: store,
    factus: { accessTtlSeconds: 600 },
    daemon: { watchIntervalMs: 50, liveFeedWatchIntervalMs: 3_600_000, feedProofMs: 500 },
  });
  try {
    await connectFactus(rig, 'acme');
    await connectFactus(rig, 'second');
    await eventually(() => rig.daemon.keepAlive.get('second') !== undefined, 'the logins are seen');
    await rig.advance(600_000, 60_000);
    await eventually(async () => {
      const before = tapped.listings;
      await sleep(300);
      return tapped.listings === before;
    }, 'the listing pauses');
    await dropFeed();
    await rig.cli.logout('second');
    await eventually(() => rig.daemon.keepAlive.get('second') === undefined, 'the logout is found');
  } finally {
    await rig.close();
  }
}

/** Two daemons on one store for 30 minutes of 10-minute tokens. */
async function splitsTheWork(store: TokenStore): Promise<void> {
  const rig = await startServeRig({ store, factus: { accessTtlSeconds: 600, rotation: 'strict' } });
  const second = await startDaemon({
    store,
    encryptionKey: rig.key,
    clock: rig.clock,
    env: { TOKENKEEPER_SERVE_SECRET: 'another-daemon-secret-0123456789' },
    watchIntervalMs: 50,
  });
  const refreshedBy = { first: 0, second: 0 };
  rig.daemon.keeper.on('refresh', () => refreshedBy.first++);
  second.keeper.on('refresh', () => refreshedBy.second++);
  try {
    for (let i = 0; i < 8; i++) await connectFactus(rig, `c${i}`);
    await Promise.all([rig.daemon.keepAlive.sync(), second.keepAlive.sync()]);
    for (let minute = 0; minute < 30; minute++) {
      await rig.clock.advance(60_000);
      await Promise.all([rig.daemon.keepAlive.whenIdle(), second.keepAlive.whenIdle()]);
    }
    const stats = rig.factus.stats();
    const asked = stats.tokenRequests.refresh_token ?? 0;
    assert.ok(asked >= 24 && asked <= 27, `expected 24 to 27 token requests for 8 connections, got ${asked}`);
    assert.equal(stats.invalidGrant, 0, 'no rotated refresh token was used twice');
    assert.equal(refreshedBy.first + refreshedBy.second, asked, 'each token request was one refresh');
    assert.ok(
      refreshedBy.first > 0 && refreshedBy.second > 0,
      `both took a share: ${JSON.stringify(refreshedBy)}`,
    );
  } finally {
    await second.close();
    await rig.close();
  }
}

/**
 * Another daemon claimed a connection as it came due and died before refreshing it: the
 * claim runs out one lease later, and the daemon left takes the connection over.
 */
async function takesOverADeadClaim(store: TokenStore): Promise<void> {
  const rig = await startServeRig({ store, factus: { accessTtlSeconds: 600 } });
  try {
    await connectFactus(rig, 'acme');
    await rig.daemon.keepAlive.sync();
    const dueIndex = store.dueIndex!;
    const dueAt = (await dueIndex.nextDueAt())!;
    // The other daemon's first step when the connection comes due; then it is gone.
    assert.deepEqual(await dueIndex.claimDue(dueAt, 10, SERVE_DEFAULTS.claimLeaseMs), ['acme']);
    await rig.advance(dueAt - rig.clock.now() + 60_000, 30_000);
    assert.equal(rig.factus.stats().tokenRequests.refresh_token ?? 0, 0, 'claimed: nobody else takes it');
    await rig.advance(SERVE_DEFAULTS.claimLeaseMs, 30_000);
    await eventually(async () => {
      await rig.daemon.keepAlive.whenIdle();
      return (rig.factus.stats().tokenRequests.refresh_token ?? 0) === 1;
    }, 'the daemon left refreshes the connection once the claim ran out');
  } finally {
    await rig.close();
  }
}

/** The daemon's store and another process's: two connections to one file. */
async function onSqlite(work: (store: TokenStore, cliStore: TokenStore) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tokenkeeper-serve-sqlite-'));
  const daemonStore = await SqliteTokenStore.open(join(dir, 'tokenkeeper.db'));
  const cliStore = await SqliteTokenStore.open(join(dir, 'tokenkeeper.db'));
  try {
    await work(daemonStore, cliStore);
  } finally {
    await Promise.all([daemonStore.close(), cliStore.close()]);
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Opened from a location string, the daemon seals under the key it is given (no key file is
 * made); with the store's key file lost it refuses to start, naming the key, and makes none.
 */
async function takesTheKeyItIsGiven(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tokenkeeper-serve-key-'));
  const path = join(dir, 'tokenkeeper.db');
  const keyFile = join(dir, 'tokenkeeper.key');
  const env = { TOKENKEEPER_SERVE_SECRET: 'a-daemon-secret-0123456789abcdef' };
  try {
    const key = generateEncryptionKey();
    const given = await startDaemon({ store: path, encryptionKey: key.toString('base64'), env });
    try {
      assert.equal(await given.keeper.keyId(), encryptionKeyId(key));
    } finally {
      await given.close();
    }
    assert.equal(existsSync(keyFile), false, 'no key file beside the database');

    const factus = await startFactusEmulator();
    const keeper = createKeeper({ store: path, env: {}, proactiveRefresh: false });
    let sealedWith: string | undefined;
    try {
      await keeper.connect('acme', factusSpec(factus));
      sealedWith = (await keeper.info('acme')).keyId;
    } finally {
      await keeper.close();
      await factus.stop();
    }
    rmSync(keyFile);
    await assert.rejects(startDaemon({ store: path, env }), (error: TokenkeeperError) => {
      assert.equal(error.code, 'STORE_KEY');
      assert.match(
        error.message,
        new RegExp(`sealed with key ${sealedWith}, but its key file ${keyFile} is missing`),
      );
      return true;
    });
    assert.equal(existsSync(keyFile), false, 'no new key is made by itself');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('the daemon on SQLite', () => {
  it('opened from a location string, takes the key it is given, and refuses to start without its key file', () =>
    takesTheKeyItIsGiven());
  it('hears a login, a refresh and a logout that another process makes as they are made', () =>
    onSqlite(hearsChangesAsTheyAreMade));
  it('lists every row rarely while it hears its own refreshes, at its pace once one goes unheard', () =>
    onSqlite(listsRarelyWhileItHearsItself));
  it('with nothing to refresh, lists every row rarely while its echo is heard, at its pace once it is not', () =>
    onSqlite(listsRarelyWhenIdleThroughItsEcho));
  it('lists every row once at start, its echo heard before the first watch tick', () =>
    onSqlite(listsOnceAtStart));
});

/** Runs `work` on a fresh shared store; `dropFeed` ends the connection its change feed listens on. */
type OnSharedStore = (
  work: (store: TokenStore, dropFeed: () => Promise<void>) => Promise<void>,
) => Promise<void>;

/** What a daemon does on a store shared by hosts; `feedConnection` names what dropFeed ends. */
function daemonOnASharedStore(on: OnSharedStore, feedConnection: string): void {
  it('keeps a connection fresh and watches the store', () => on(keepsFreshAndWatches));
  it('hears a login, a refresh and a logout as they are made', () =>
    on((store) => hearsChangesAsTheyAreMade(store)));
  it('lists every row rarely while it hears its own refreshes, at its pace once one goes unheard', () =>
    on((store) => listsRarelyWhileItHearsItself(store)));
  it('with nothing to refresh, lists every row rarely while its echo is heard, at its pace once it is not', () =>
    on((store) => listsRarelyWhenIdleThroughItsEcho(store)));
  it('lists every row once at start, its echo heard before the first watch tick', () =>
    on((store) => listsOnceAtStart(store)));
  it(`finds a logout made while its ${feedConnection} was down`, () => on(findsWhatTheFeedMissedWhileDown));
  it('two daemons split the refreshes, each asked of the provider once', () => on(splitsTheWork));
  it('a claim whose daemon died goes to another daemon one lease later', () => on(takesOverADeadClaim));
}

const pgProblem = await probePostgres();
const onPostgres: OnSharedStore = async (work) => {
  const schema = uniqueName('tk_serve');
  // Named, so that dropFeed finds this store's LISTEN connection among the server's.
  const applicationName = uniqueName('tk_serve_feed');
  const store = await PostgresTokenStore.connect({
    connectionString: PG_URL,
    schema,
    pool: { application_name: applicationName },
  });
  try {
    await work(store, () => dropPostgresListener(applicationName));
  } finally {
    await store.close();
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  }
};

describeWithServer('the daemon on PostgreSQL', 'PostgreSQL', PG_URL, pgProblem, () =>
  daemonOnASharedStore(onPostgres, 'LISTEN connection'),
);

const redisProblem = await probeRedis();
const onRedis: OnSharedStore = async (work) => {
  const prefix = `${uniqueName('tk_serve')}:`;
  // Named, so that dropFeed finds this store's subscriber among the server's clients.
  const connectionName = uniqueName('tk_serve_feed');
  const store = await RedisTokenStore.connect({
    url: REDIS_URL,
    keyPrefix: prefix,
    redis: { connectionName },
  });
  try {
    await work(store, () => dropRedisSubscriber(connectionName));
  } finally {
    await store.close();
    const admin = new Redis(REDIS_URL);
    // Keys carry the prefix inside a hash tag: {prefix:name}:conn.
    const keys = await admin.keys(`*${prefix}*`);
    if (keys.length > 0) await admin.del(...keys);
    admin.disconnect();
  }
};

describeWithServer('the daemon on Redis', 'Redis', REDIS_URL, redisProblem, () =>
  daemonOnASharedStore(onRedis, 'subscription'),
);
