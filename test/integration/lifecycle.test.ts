import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { startFactusEmulator } from '../../src/emulators/factus/factus-emulator.js';
import { KeeperClosedError, type TokenkeeperError } from '../../src/errors.js';
import { createKeeper } from '../../src/keeper.js';
import { MemoryTokenStore } from '../../src/store/memory-store.js';
import { SqliteTokenStore } from '../../src/store/sqlite-store.js';
import { apiStatus, type FactusRig, recordEvents, startFactusRig } from '../helpers/factus.js';

describe('token lifecycle against the Factus emulator (strict rotation)', () => {
  let rig: FactusRig;
  before(async () => {
    rig = await startFactusRig({ keeper: { proactiveRefresh: false } });
  });
  after(() => rig.close());

  it('logs in with the password grant and serves the token from memory while fresh', async () => {
    const events = recordEvents(rig.keeper);
    const info = await rig.keeper.connect('acme', rig.spec);
    assert.equal(info.state, 'ok');
    assert.equal(info.grant, 'password');
    assert.equal(info.hasRefreshToken, true);
    assert.equal(info.expiresAt, rig.clock.now() + 3600_000);
    assert.deepEqual(events.names(), ['token']);
    assert.equal(JSON.stringify(events.seen).includes(rig.spec.password!), false);

    const first = await rig.keeper.getAccessToken('acme');
    await rig.clock.advance(30 * 60_000);
    assert.equal(await rig.keeper.getAccessToken('acme'), first);
    assert.equal(rig.emulator.stats().tokenRequests.total, 1);
    assert.equal(await apiStatus(rig.emulator, first), 200);
  });

  it('refreshes when the token nears expiry, and the rotation revokes the old tokens', async () => {
    const events = recordEvents(rig.keeper);
    const before = await rig.keeper.getAccessToken('acme');
    // 60 s margin before the 3600 s expiry; 30 minutes already passed.
    await rig.clock.advance(29 * 60_000 + 1);
    const after = await rig.keeper.getAccessToken('acme');
    assert.notEqual(after, before);
    assert.deepEqual(rig.emulator.stats().tokenRequests, { total: 2, password: 1, refresh_token: 1 });
    assert.deepEqual(events.names(), ['refresh']);
    assert.equal(events.seen[0]?.payload.rotated, true);
    assert.equal(
      await apiStatus(rig.emulator, before),
      401,
      'the old access token was revoked by the rotation',
    );
    assert.equal(await apiStatus(rig.emulator, after), 200);
  });

  it('measures the new expiry from when the refresh request started', async () => {
    const info = await rig.keeper.info('acme');
    assert.equal(info.expiresAt, rig.clock.now() + 3600_000);
    assert.equal(info.lastRefreshAt, rig.clock.now());
  });

  it('refresh() replaces tokens that are still fresh', async () => {
    const before = await rig.keeper.getAccessToken('acme');
    await rig.keeper.refresh('acme');
    assert.notEqual(await rig.keeper.getAccessToken('acme'), before);
    assert.equal(rig.emulator.stats().tokenRequests.refresh_token, 2);
  });

  it('forget() removes the connection', async () => {
    assert.equal(await rig.keeper.forget('acme'), true);
    await assert.rejects(rig.keeper.getAccessToken('acme'), (error: TokenkeeperError) => {
      assert.equal(error.code, 'NOT_FOUND');
      assert.match(error.message, /tokenkeeper login acme/);
      return true;
    });
  });
});

describe('proactive refresh', () => {
  it('refreshes in the background from the real expires_in, and close() stops the timers', async () => {
    const rig = await startFactusRig({ emulator: { accessTtlSeconds: 600 } });
    try {
      const events = recordEvents(rig.keeper);
      await rig.keeper.connect('acme', rig.spec);
      // 600 s token: margin 60 s, jitter up to 12 s, so the refresh fires between 528 s and 540 s.
      await rig.clock.advance(527_000);
      assert.equal(events.count('refresh'), 0);
      await rig.clock.advance(13_000);
      await waitFor(() => events.count('refresh') === 1);
      assert.equal(rig.emulator.stats().tokenRequests.refresh_token, 1);
      // And again for the next token, with nobody calling.
      await rig.clock.advance(600_000);
      await waitFor(() => events.count('refresh') === 2);
      assert.ok(rig.clock.pendingTimers >= 1);
      await rig.keeper.close();
      assert.equal(rig.clock.pendingTimers, 0, 'close() cancels the refresh timer');
    } finally {
      await rig.close();
    }
  });

  it('does not refresh in a storm when the token lives shorter than the margin', async () => {
    const rig = await startFactusRig({ emulator: { accessTtlSeconds: 20 } });
    try {
      await rig.keeper.connect('acme', rig.spec);
      // Margin 60 s clamped to half of 20 s: about one refresh every 10 s, not one per call.
      for (let i = 0; i < 60; i++) {
        await rig.keeper.getAccessToken('acme');
        await rig.clock.advance(1000);
      }
      const refreshes = rig.emulator.stats().tokenRequests.refresh_token ?? 0;
      assert.ok(refreshes >= 5 && refreshes <= 7, `expected about 6 refreshes in 60 s, got ${refreshes}`);
    } finally {
      await rig.close();
    }
  });
});

describe('refresh failures', () => {
  it('keeps serving a still-valid token when a refresh fails, and backs off instead of hammering', async () => {
    const rig = await startFactusRig({ keeper: { proactiveRefresh: false } });
    const events = recordEvents(rig.keeper);
    await rig.keeper.connect('acme', rig.spec);
    const token = await rig.keeper.getAccessToken('acme');
    await rig.emulator.stop();
    try {
      await rig.clock.advance(3550_000); // inside the margin, not yet expired
      assert.equal(await rig.keeper.getAccessToken('acme'), token);
      assert.equal(events.count('refresh_failed'), 1);
      assert.equal(await rig.keeper.getAccessToken('acme'), token, 'the back-off serves the old token');
      assert.equal(events.count('refresh_failed'), 1, 'no second attempt inside the back-off');
      await rig.clock.advance(60_000); // now expired
      await assert.rejects(
        rig.keeper.getAccessToken('acme'),
        (error: TokenkeeperError) => error.code === 'NETWORK',
      );
    } finally {
      await rig.keeper.close();
    }
  });

  it('a new login elsewhere sends none of the saved secrets there unless they are given again', async () => {
    const rig = await startFactusRig();
    const elsewhere = await startFactusEmulator();
    try {
      await rig.keeper.connect('acme', rig.spec);
      const { clientId, username, provider } = rig.spec;
      const moved = { provider, baseUrl: elsewhere.url, clientId, username };
      await assert.rejects(
        rig.keeper.connect('acme', moved, { reuseSaved: true }),
        (error: TokenkeeperError) => {
          assert.equal(error.code, 'CONFIG');
          assert.match(
            error.message,
            new RegExp(
              `saved client secret and password of "acme" were given for ${new URL(rig.emulator.url).origin}; ` +
                `they are not sent to ${new URL(elsewhere.url).origin}\\. Give them again`,
            ),
          );
          return true;
        },
      );
      assert.equal(elsewhere.stats().tokenRequests.total, 0, 'nothing was sent to the new place');
      // The same place again reuses them; given again, they go to the new one.
      await rig.keeper.connect('acme', { provider, clientId, username }, { reuseSaved: true });
      const { clientSecret, password } = rig.spec;
      await rig.keeper.connect('acme', { ...moved, clientSecret, password }, { reuseSaved: true });
      assert.equal(elsewhere.stats().tokenRequests.password, 1);
    } finally {
      await elsewhere.stop();
      await rig.close();
    }
  });

  it('says so when the connection does not exist', async () => {
    const rig = await startFactusRig();
    try {
      await assert.rejects(rig.keeper.fetch('nobody', '/v1/bills'), /no connection named "nobody"/);
    } finally {
      await rig.close();
    }
  });

  it('rejects bad connection specs with clear errors before any request', async () => {
    const rig = await startFactusRig();
    try {
      await assert.rejects(rig.keeper.connect('bad name!', rig.spec), /not a valid connection name/);
      await assert.rejects(
        rig.keeper.connect('x', { ...rig.spec, provider: 'nope' }),
        /Unknown provider "nope"/,
      );
      await assert.rejects(rig.keeper.connect('x', { ...rig.spec, password: undefined }), /needs password/);
      await assert.rejects(
        rig.keeper.connect('x', { ...rig.spec, baseUrl: 'http://api.example.com' }),
        /plain http/,
      );
      await assert.rejects(
        rig.keeper.connect('x', { ...rig.spec, baseUrl: undefined, environment: 'staging' }),
        /no environment "staging"/,
      );
      const config = (pattern: RegExp) => (error: TokenkeeperError) => {
        assert.equal(error.code, 'CONFIG', error.message);
        assert.match(error.message, pattern);
        return true;
      };
      // Factus authenticates the client with its secret: the spec is refused, not the request.
      await assert.rejects(
        rig.keeper.connect('x', { ...rig.spec, clientSecret: undefined }),
        config(
          /password grant needs clientSecret for connection "x" \(Factus authenticates the client with client_secret_post\)/,
        ),
      );
      // One rule for names, whatever was passed, before anything is sent.
      for (const name of [42, undefined, '', 'x'.repeat(65), 'x'.repeat(300), 'a b'] as unknown as string[]) {
        await assert.rejects(
          rig.keeper.connect(name, rig.spec),
          config(/is not a valid connection name: use 1-64 letters, digits, dots, dashes or underscores/),
        );
      }
      await assert.rejects(rig.keeper.info(42 as unknown as string), config(/not a valid connection name/));
      await assert.rejects(rig.keeper.getAccessToken('a b'), config(/not a valid connection name/));
      await assert.rejects(
        rig.keeper.connect('x', undefined as unknown as typeof rig.spec),
        config(/connect\(name, spec\) needs a spec object such as \{ provider: 'factus', … \}/),
      );
      await assert.rejects(
        rig.keeper.connect('x', { ...rig.spec, provider: undefined } as unknown as typeof rig.spec),
        config(/needs provider: one of factus, factorial, oauth2/),
      );
      await assert.rejects(
        rig.keeper.connect('x', { ...rig.spec, password: 1234 } as unknown as typeof rig.spec),
        config(/spec's password must be a string, got a number/),
      );
      await assert.rejects(
        rig.keeper.connect('x', {
          ...rig.spec,
          clientAuthMethod: 'private_key_jwt',
        } as unknown as typeof rig.spec),
        config(/clientAuthMethod must be one of client_secret_post, client_secret_basic, none/),
      );
      await assert.rejects(
        rig.keeper.connect('x', { ...rig.spec, authorizationCode: 'abc' } as unknown as typeof rig.spec),
        config(/authorizationCode must be \{ code, redirectUri, codeVerifier\? \}/),
      );
      await assert.rejects(
        rig.keeper.connect('x', rig.spec, { authorize: 'yes' } as never),
        config(/authorize option must be a function/),
      );
      assert.equal(rig.emulator.stats().tokenRequests.total, 0);
    } finally {
      await rig.close();
    }
  });

  it('needs an encryption key for a non-memory store passed as an object', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tk-key-'));
    const store = await SqliteTokenStore.open(join(dir, 'store.db'));
    const keeper = createKeeper({ store, env: {} });
    try {
      await assert.rejects(keeper.list(), (error: TokenkeeperError) => {
        assert.equal(error.code, 'CONFIG');
        assert.match(error.message, /TOKENKEEPER_KEY/);
        return true;
      });
    } finally {
      await keeper.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('closing with a refresh under way', () => {
  /** A keeper on its own store whose forced refresh has reached the provider, which holds it. */
  async function refreshHeldBy(rig: FactusRig, store: MemoryTokenStore, delayMs: number) {
    await rig.keeper.connect('acme', rig.spec);
    rig.emulator.faults.add({ point: 'token', delayMs, count: 1 });
    const refreshing = rig.keeper.refresh('acme').catch((error: unknown) => error);
    for (let waited = 0; (rig.emulator.stats().faults.token ?? 0) < 1; waited += 10) {
      assert.ok(waited < 5_000, 'the refresh never reached the provider');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return { refreshing, versionBefore: (await store.get('acme'))?.version };
  }

  it('waits for an answer within the grace and saves the rotated tokens', async () => {
    const store = new MemoryTokenStore();
    const rig = await startFactusRig({ keeper: { store, proactiveRefresh: false, env: {} } });
    try {
      const { refreshing, versionBefore } = await refreshHeldBy(rig, store, 300);
      await rig.keeper.close({ graceMs: 5_000 });
      assert.equal(((await refreshing) as { state?: string }).state, 'ok');
      assert.equal((await store.get('acme'))?.version, (versionBefore ?? 0) + 1, 'the rotation was saved');
    } finally {
      await rig.close();
    }
  });

  it('waits no longer than the graceMs it is given, and refuses options it cannot use', async () => {
    const store = new MemoryTokenStore();
    // The default grace (10 s) would outlast this test's bound below by far.
    const rig = await startFactusRig({ keeper: { store, proactiveRefresh: false, env: {} } });
    try {
      const { versionBefore } = await refreshHeldBy(rig, store, 60_000);
      const refused = async (options: unknown, message: RegExp) =>
        assert.rejects(rig.keeper.close(options as { graceMs?: number }), (error: TokenkeeperError) => {
          assert.equal(error.code, 'CONFIG');
          assert.match(error.message, message);
          return true;
        });
      await refused({ graceMs: -1 }, /graceMs must be a positive number/);
      await refused({ grace: 200 }, /close\(\) has no option "grace": did you mean "graceMs"\?/);
      await refused(200, /close\(\) takes \{ graceMs \}, got a number/);
      assert.equal((await rig.keeper.info('acme')).name, 'acme', 'a refused close leaves the keeper open');
      const began = performance.now();
      await rig.keeper.close({ graceMs: 200 });
      const tookMs = performance.now() - began;
      assert.ok(tookMs < 5_000, `close waited ${Math.round(tookMs)} ms for a refresh given 200 ms`);
      assert.equal((await store.get('acme'))?.version, versionBefore, 'nothing half-done was saved');
    } finally {
      await rig.close();
    }
  });

  for (const [sender, fetchOption] of [
    ['node:http', {}],
    ['a fetch of its own', { fetch: globalThis.fetch }],
  ] as const) {
    it(`gives up a token request still unanswered when the grace runs out, and lets go of the lock at once (${sender})`, async () => {
      const store = new MemoryTokenStore();
      const rig = await startFactusRig({
        keeper: { store, proactiveRefresh: false, env: {}, ...fetchOption },
      });
      const events = recordEvents(rig.keeper);
      try {
        const { refreshing, versionBefore } = await refreshHeldBy(rig, store, 60_000);
        await rig.keeper.close({ graceMs: 200 });
        // Otherwise the abandoned refresh would renew its lease until its 30-s request timeout.
        assert.equal(await store.tryLock('acme', 'the-next-process', 10_000), true, 'the lock was let go');
        const error = await refreshing;
        assert.ok(error instanceof KeeperClosedError, `refresh() failed with ${String(error)}`);
        assert.equal(error.code, 'CONFIG');
        assert.equal(error.connection, 'acme');
        assert.match(
          error.message,
          /closed before the token endpoint at http:\/\/127\.0\.0\.1:\d+ answered for "acme"/,
        );
        // Not the provider's failure: no back-off is written (it would be a new version) and none is reported.
        assert.equal((await store.get('acme'))?.version, versionBefore, 'the store was left as it was');
        assert.equal(events.count('refresh_failed'), 0);
      } finally {
        await rig.close();
      }
    });
  }

  it('releases the lock before closing a store it opened itself', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tk-close-'));
    const path = join(dir, 'store.db');
    const rig = await startFactusRig({ keeper: { store: path, proactiveRefresh: false, env: {} } });
    try {
      await rig.keeper.connect('acme', rig.spec);
      rig.emulator.faults.add({ point: 'token', delayMs: 60_000, count: 1 });
      const refreshing = rig.keeper.refresh('acme').catch((error: unknown) => error);
      await waitFor(() => (rig.emulator.stats().faults.token ?? 0) >= 1);
      await rig.keeper.close({ graceMs: 200 });
      assert.ok((await refreshing) instanceof KeeperClosedError);
      const reopened = await SqliteTokenStore.open(path);
      try {
        assert.equal(await reopened.tryLock('acme', 'the-next-process', 10_000), true, 'the lock was let go');
      } finally {
        await reopened.close();
      }
    } finally {
      await rig.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
