/**
 * The daemon keeps connections alive that nobody uses: before the access token expires,
 * and before the refresh token lapses unused (the profile's lifetime, and --keepalive).
 * Token time is a fake clock shared with the emulators; nothing waits for real expiry.
 */
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { describe, it } from 'node:test';
import { FakeClock } from '../../src/clock.js';
import { startFactorialEmulator } from '../../src/emulators/factorial/factorial-emulator.js';
import type { TokenkeeperError } from '../../src/errors.js';
import { createKeeper } from '../../src/keeper.js';
import { MemoryTokenStore } from '../../src/store/memory-store.js';
import { ReadCountingStore } from '../helpers/forwarding-store.js';
import { ListingHeldStore } from '../helpers/gated-store.js';
import { connectFactorial, connectFactus, eventually, startServeRig } from './serve-rig.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('keeping idle connections alive', () => {
  it('an idle Factorial connection outlives its one-week refresh token; an unserved one does not', async () => {
    // Access tokens that outlive the refresh token: only the keep-alive refreshes anything.
    const rig = await startServeRig({ factorial: { accessTtlSeconds: 30 * 24 * 3600 } });
    try {
      await connectFactorial(rig, 'kept');
      // The control: the same emulator and clock, a store no daemon serves.
      const unserved = createKeeper({
        store: new MemoryTokenStore(),
        clock: rig.clock,
        env: {},
        proactiveRefresh: false,
      });
      await connectFactorial(rig, 'control', unserved);
      await rig.daemon.keepAlive.sync();
      const before = rig.factorial.stats().tokenRequests.refresh_token ?? 0;

      await rig.advance(8 * DAY + HOUR, HOUR);

      const refreshes = (rig.factorial.stats().tokenRequests.refresh_token ?? 0) - before;
      // --keepalive 24 h (jittered up to 10 % earlier): about one a day, never a lapse.
      assert.ok(refreshes >= 8 && refreshes <= 10, `expected 8 to 10 keep-alive refreshes, got ${refreshes}`);
      const info = await rig.cli.refresh('kept');
      assert.equal(info.state, 'ok');
      await assert.rejects(unserved.refresh('control'), (error: TokenkeeperError) => {
        assert.equal(error.code, 'REAUTH_REQUIRED');
        return true;
      });
      await unserved.close();
    } finally {
      await rig.close();
    }
  });

  it('with a one-hour refresh token at the emulator and --keepalive 20m, an idle connection lives on for a day', async () => {
    const rig = await startServeRig({
      factorial: { accessTtlSeconds: 30 * 24 * 3600, refreshTtlSeconds: 3600 },
      daemon: { keepaliveMs: 20 * 60_000 },
    });
    try {
      await connectFactorial(rig, 'kept');
      await rig.daemon.keepAlive.sync();
      await rig.advance(DAY, 5 * 60_000);
      assert.equal(rig.factorial.stats().invalidGrant, 0);
      assert.equal((await rig.cli.refresh('kept')).state, 'ok');
    } finally {
      await rig.close();
    }
  });

  it('refreshes within the profile refresh-token lifetime even when --keepalive is longer', async () => {
    const rig = await startServeRig({
      factorial: { accessTtlSeconds: 30 * 24 * 3600 },
      daemon: { keepaliveMs: 60 * DAY },
    });
    try {
      await connectFactorial(rig, 'kept');
      await rig.daemon.keepAlive.sync();
      await rig.advance(15 * DAY, 6 * HOUR);
      // Half of Factorial's one week, jittered: four to five refreshes in 15 days.
      const refreshes = rig.factorial.stats().tokenRequests.refresh_token ?? 0;
      assert.ok(refreshes >= 4 && refreshes <= 5, `expected 4 or 5 refreshes, got ${refreshes}`);
      assert.equal((await rig.cli.refresh('kept')).state, 'ok');
    } finally {
      await rig.close();
    }
  });

  it('refreshes every connection before its access token expires, without a caller', async () => {
    const rig = await startServeRig({ factus: { accessTtlSeconds: 600 } });
    try {
      await connectFactus(rig, 'a');
      await connectFactus(rig, 'b');
      await rig.daemon.keepAlive.sync();
      for (let minute = 0; minute < 60; minute++) {
        await rig.advance(60_000, 60_000);
        for (const c of rig.daemon.keepAlive.connections()) {
          assert.ok(
            typeof c.expiresAt === 'number' && c.expiresAt > rig.clock.now(),
            `${c.name} expired at minute ${minute}`,
          );
        }
      }
      // 10-minute tokens for an hour: about six refreshes each, none from a caller.
      const refreshes = rig.factus.stats().tokenRequests.refresh_token ?? 0;
      assert.ok(refreshes >= 12 && refreshes <= 14, `expected 12 to 14 refreshes, got ${refreshes}`);
    } finally {
      await rig.close();
    }
  });

  it('reads a connection it judged due only under the refresh lock and after the refresh', async () => {
    const store = new ReadCountingStore(new MemoryTokenStore());
    const rig = await startServeRig({ store, factus: { accessTtlSeconds: 600 } });
    try {
      await connectFactus(rig, 'a');
      await rig.daemon.keepAlive.sync();
      store.reads = 0;
      await rig.advance(10 * 60_000, 60_000);
      const refreshes = rig.factus.stats().tokenRequests.refresh_token ?? 0;
      assert.ok(refreshes >= 1, 'the connection came due and was refreshed');
      assert.equal(store.reads, 2 * refreshes, 'two reads a refresh: under its lock, and after it');
    } finally {
      await rig.close();
      await store.close();
    }
  });

  it('bounds refreshes at once and spaces token requests per provider', async () => {
    // Real fetch, watched: when each token request starts, and how many are in flight.
    const starts: number[] = [];
    let inFlight = 0;
    let mostInFlight = 0;
    const watched: typeof fetch = async (input, init) => {
      if (!String(input instanceof Request ? input.url : input).endsWith('/oauth/token'))
        return fetch(input, init);
      starts.push(Date.now());
      mostInFlight = Math.max(mostInFlight, ++inFlight);
      try {
        return await fetch(input, init);
      } finally {
        inFlight--;
      }
    };
    const rig = await startServeRig({
      factus: { accessTtlSeconds: 600 },
      daemon: { fetch: watched, concurrency: 3, tokenRequestsPerSecond: 20 },
    });
    try {
      const names = Array.from({ length: 12 }, (_, i) => `c${i}`);
      for (const name of names) await connectFactus(rig, name);
      rig.factus.faults.add({ point: 'token', delayMs: 100, count: names.length });
      await rig.daemon.keepAlive.sync();
      await rig.advance(10 * 60_000, 10 * 60_000); // every one of them due at once
      assert.equal(starts.length, names.length);
      assert.ok(mostInFlight <= 3, `at most 3 refreshes at once, saw ${mostInFlight}`);
      // 20 a second: 50 ms apart (the start of each request wanders by a few ms around its slot).
      const span = (starts.at(-1) as number) - (starts[0] as number);
      assert.ok(
        span >= (names.length - 1) * 50 - 25,
        `12 token requests over at least 525 ms, took ${span} ms`,
      );
    } finally {
      await rig.close();
    }
  });

  it('does not retry a connection that needs a new login until a login changes it', async () => {
    const rig = await startServeRig({ factorial: { accessTtlSeconds: 3600, refreshTtlSeconds: 1800 } });
    try {
      await connectFactorial(rig, 'lapsed');
      // The refresh token (30 min) dies before the access token (1 h) comes due.
      await rig.daemon.keepAlive.sync();
      await rig.advance(HOUR, 5 * 60_000);
      const view = rig.daemon.keepAlive.get('lapsed');
      assert.equal(view?.state, 'reauth_required');
      const asked = rig.factorial.stats().tokenRequests.total;
      await rig.advance(2 * DAY, HOUR);
      assert.equal(
        rig.factorial.stats().tokenRequests.total,
        asked,
        'no token request for a connection that needs a login',
      );

      await connectFactorial(rig, 'lapsed');
      await rig.daemon.keepAlive.sync();
      assert.equal(rig.daemon.keepAlive.get('lapsed')?.state, 'ok');
      assert.ok(rig.daemon.keepAlive.get('lapsed')?.dueAt !== undefined, 'scheduled again after the login');
    } finally {
      await rig.close();
    }
  });

  it('keeps a connection that a listing read before its login leaves out, and drops it after a logout', async () => {
    const store = new ListingHeldStore(new MemoryTokenStore());
    // No watch ticks: the test runs every sync itself.
    const rig = await startServeRig({
      store,
      factus: { accessTtlSeconds: 600 },
      daemon: { watchIntervalMs: HOUR },
    });
    try {
      await connectFactus(rig, 'early');
      await rig.daemon.keepAlive.sync();
      const hold = store.holdNextListing();
      const staleSync = rig.daemon.keepAlive.sync();
      await hold.reached; // it listed 'early' alone
      await connectFactus(rig, 'late');
      await rig.daemon.keepAlive.sync(); // reads 'late' and schedules it
      hold.release();
      await staleSync;
      assert.notEqual(rig.daemon.keepAlive.get('late'), undefined, 'the older listing did not drop it');
      await rig.advance(10 * 60_000, 60_000);
      assert.equal(rig.factus.stats().tokenRequests.refresh_token, 2, 'both stayed in the due index');

      await rig.cli.logout('early');
      await rig.cli.logout('late');
      await rig.daemon.keepAlive.sync();
      assert.deepEqual(rig.daemon.keepAlive.connections(), [], 'a listing after the logouts drops both');
    } finally {
      await rig.close();
      await store.close();
    }
  });

  it('schedules nothing for an API key', async () => {
    const clock = new FakeClock(Date.now());
    const emulator = await startFactorialEmulator({ now: () => clock.now() });
    const rig = await startServeRig();
    try {
      await rig.cli.connect('key', {
        provider: 'factorial',
        baseUrl: emulator.url,
        grant: 'api_key',
        apiKey: emulator.credentials.apiKey,
      });
      await rig.daemon.keepAlive.sync();
      assert.equal(rig.daemon.keepAlive.get('key')?.dueAt, undefined);
    } finally {
      await rig.close();
      await emulator.stop();
    }
  });
});

describe('stopping the daemon', () => {
  it('waits out a refresh the provider holds once, within closeGraceMs, and leaves it due for another daemon', async () => {
    const graceMs = 2_000;
    const rig = await startServeRig({
      factus: { accessTtlSeconds: 600 },
      daemon: { keepaliveMs: 60_000, keeper: { closeGraceMs: graceMs } },
    });
    try {
      await connectFactus(rig, 'acme');
      await rig.daemon.keepAlive.sync();
      rig.factus.faults.add({ point: 'token', delayMs: 60_000, count: 1 });
      await rig.clock.advance(70_000);
      await eventually(
        () => (rig.factus.stats().faults.token ?? 0) >= 1,
        'the keep-alive refresh reached the provider',
      );
      const began = performance.now();
      await rig.daemon.close();
      const tookMs = performance.now() - began;
      // The keep-alive and the keeper both wait for this refresh; twice the grace is the bug.
      assert.ok(tookMs >= graceMs - 50, `stopped after ${Math.round(tookMs)} ms, before the grace ran out`);
      assert.ok(
        tookMs < graceMs * 1.6,
        `stopping took ${Math.round(tookMs)} ms for a grace of ${graceMs} ms`,
      );
      // The refresh given up on the way out is no failure of the connection's: it stays due, unmarked.
      await new Promise((resolve) => setTimeout(resolve, 100));
      const view = rig.daemon.keepAlive.get('acme');
      assert.equal(view?.failures, 0);
      assert.equal(view?.lastErrorCode, undefined);
      assert.ok((view?.dueAt ?? Number.POSITIVE_INFINITY) <= rig.clock.now(), 'still due, not pushed back');
    } finally {
      await rig.close();
    }
  });
});
