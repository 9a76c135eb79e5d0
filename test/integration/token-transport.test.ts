/**
 * Which transport token requests take: node:http (buffered-request) when no `fetch` option
 * was given, the given fetch otherwise. Against the emulators over real HTTP.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../../src/clock.js';
import { startFactorialEmulator } from '../../src/emulators/factorial/factorial-emulator.js';
import { createKeeper } from '../../src/keeper.js';
import { autoApprovedCode, factorialCodeSpec } from '../helpers/factorial.js';
import { startFactusRig } from '../helpers/factus.js';
import { connectFactus, startServeRig } from '../serve/serve-rig.js';

const urlOf = (input: string | URL | Request) => (input instanceof Request ? input.url : String(input));

/**
 * Replaces globalThis.fetch until `restore()`: token and revocation requests (paths under
 * /oauth/) are recorded and refused; anything else (the API) passes through.
 */
function refuseOAuthOnGlobalFetch() {
  const original = globalThis.fetch;
  const refused: string[] = [];
  globalThis.fetch = async (input, init) => {
    const url = urlOf(input);
    if (!new URL(url).pathname.startsWith('/oauth/')) return original(input, init);
    refused.push(url);
    throw new Error(`globalThis.fetch was asked for ${url}`);
  };
  return {
    refused,
    restore: () => {
      globalThis.fetch = original;
    },
  };
}

describe('token requests without a fetch option', () => {
  it('a Factus login and refresh go over node:http, never through globalThis.fetch', async () => {
    const global = refuseOAuthOnGlobalFetch();
    let rig: Awaited<ReturnType<typeof startFactusRig>> | undefined;
    try {
      rig = await startFactusRig({ keeper: { proactiveRefresh: false, env: {} } });
      await rig.keeper.connect('acme', rig.spec);
      const first = await rig.keeper.getAccessToken('acme');
      await rig.clock.advance(3600_000);
      const second = await rig.keeper.getAccessToken('acme');
      assert.notEqual(second, first);
      const { tokenRequests } = rig.emulator.stats();
      assert.equal(tokenRequests.password, 1);
      assert.equal(tokenRequests.refresh_token, 1);
      assert.deepEqual(global.refused, []);
    } finally {
      global.restore();
      await rig?.close();
    }
  });

  it('a Factorial code exchange, refresh and logout (revocation) go over node:http', async () => {
    const clock = new FakeClock(Date.UTC(2026, 4, 1));
    const emulator = await startFactorialEmulator({ now: () => clock.now() });
    const code = await autoApprovedCode(emulator);
    const global = refuseOAuthOnGlobalFetch();
    const keeper = createKeeper({ store: 'memory:', clock, proactiveRefresh: false, env: {} });
    try {
      await keeper.connect('hr', factorialCodeSpec(emulator, code));
      await clock.advance(7200_000);
      await keeper.getAccessToken('hr');
      assert.deepEqual(await keeper.logout('hr'), { revoked: true });
      const stats = emulator.stats();
      assert.equal(stats.tokenRequests.authorization_code, 1);
      assert.equal(stats.tokenRequests.refresh_token, 1);
      assert.equal(stats.revocations, 2);
      assert.deepEqual(global.refused, []);
    } finally {
      global.restore();
      await keeper.close();
      await emulator.stop();
    }
  });

  it('the daemon refreshes over node:http', async () => {
    const global = refuseOAuthOnGlobalFetch();
    let rig: Awaited<ReturnType<typeof startServeRig>> | undefined;
    try {
      rig = await startServeRig();
      await connectFactus(rig, 'acme');
      // The keeper the daemon's schedule refreshes with.
      await rig.daemon.keeper.refresh('acme');
      assert.equal(rig.factus.stats().tokenRequests.refresh_token, 1);
      assert.deepEqual(global.refused, []);
    } finally {
      global.restore();
      await rig?.close();
    }
  });
});

describe('token requests with a fetch option', () => {
  it('the code exchange, refresh and revocation go through the given fetch', async () => {
    const clock = new FakeClock(Date.UTC(2026, 4, 1));
    const emulator = await startFactorialEmulator({ now: () => clock.now() });
    const asked: string[] = [];
    const keeper = createKeeper({
      store: 'memory:',
      clock,
      proactiveRefresh: false,
      env: {},
      fetch: (input, init) => {
        asked.push(`${init?.method ?? 'GET'} ${new URL(urlOf(input)).pathname}`);
        return fetch(input, init);
      },
    });
    try {
      await keeper.connect('hr', factorialCodeSpec(emulator, await autoApprovedCode(emulator)));
      await clock.advance(7200_000);
      await keeper.getAccessToken('hr');
      await keeper.logout('hr');
      assert.deepEqual(
        asked.filter((request) => request.includes('/oauth/')),
        ['POST /oauth/token', 'POST /oauth/token', 'POST /oauth/revoke', 'POST /oauth/revoke'],
      );
    } finally {
      await keeper.close();
      await emulator.stop();
    }
  });

  it('the daemon sends its token requests through the given fetch', async () => {
    const asked: string[] = [];
    let rig: Awaited<ReturnType<typeof startServeRig>> | undefined;
    try {
      rig = await startServeRig({
        daemon: {
          fetch: (input, init) => {
            asked.push(new URL(urlOf(input)).pathname);
            return fetch(input, init);
          },
        },
      });
      await connectFactus(rig, 'acme');
      await rig.daemon.keeper.refresh('acme');
      assert.equal(rig.factus.stats().tokenRequests.refresh_token, 1);
      assert.deepEqual(asked, ['/oauth/token']);
    } finally {
      await rig?.close();
    }
  });
});
