/**
 * The keeper as a map of sessions: one refresh schedule for every connection,
 * sessions that end with their connection, the browser step of connect, and
 * every wait on an injected clock.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { FakeClock } from '../../src/clock.js';
import { startFactorialEmulator } from '../../src/emulators/factorial/factorial-emulator.js';
import type { TokenkeeperError } from '../../src/errors.js';
import {
  createAuthorizationRequest,
  readAuthorizationResponse,
} from '../../src/grants/authorization-code.js';
import { type AuthorizationPrompt, createKeeper, type Keeper } from '../../src/keeper.js';
import { MemoryTokenStore } from '../../src/store/memory-store.js';
import { type FactusRig, recordEvents, startFactusRig } from '../helpers/factus.js';
import { type OidcServer, startOidcServer } from '../helpers/oidc-server.js';

/** Waits (bounded) for background work the fake clock started, such as a proactive refresh. */
async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(condition(), `timed out waiting until ${what}`);
}

describe('sessions of one keeper against the Factus emulator', () => {
  let rig: FactusRig;
  before(async () => {
    rig = await startFactusRig();
  });
  after(() => rig.close());

  it('keeps every connection fresh on one timer, and a logout ends its refreshes', async () => {
    const events = recordEvents(rig.keeper);
    for (const name of ['one', 'two', 'three']) await rig.keeper.connect(name, rig.spec);
    assert.equal(rig.clock.pendingTimers, 1, 'one timer for the whole keeper, not one per connection');

    await rig.clock.advance(3600_000 - 60_000);
    await until(() => events.count('refresh') === 3, 'each connection was refreshed before it expired');
    assert.equal(rig.emulator.stats().tokenRequests.refresh_token, 3);
    assert.equal(rig.clock.pendingTimers, 1);

    await rig.keeper.forget('two');
    await rig.clock.advance(3600_000);
    await until(() => events.count('refresh') >= 5, 'the two remaining connections were refreshed');
    assert.equal(events.count('refresh'), 5, 'the forgotten connection is no longer refreshed');
    for (const name of ['one', 'three']) assert.ok(await rig.keeper.getAccessToken(name));
  });

  it('does not keep a session for a name that has no connection', async () => {
    await assert.rejects(rig.keeper.getAccessToken('nosuch'), (error: TokenkeeperError) => {
      assert.equal(error.code, 'NOT_FOUND');
      return true;
    });
    // A second try asks the store again rather than a leftover session.
    await rig.keeper.connect('nosuch', rig.spec);
    assert.ok(await rig.keeper.getAccessToken('nosuch'));
  });
});

/**
 * An API whose first request is answered 401, with a body larger than loopback buffers
 * hold, after `onFirst` ran; every later one 200. `firstDone` resolves once the client has
 * let go of that answer: read it to the end (node:http) or closed its connection (fetch's
 * cancel, on some versions of undici). A client that holds it leaves the server writing.
 */
async function startApiThatRejectsOnce(onFirst: () => void) {
  const seen: Array<string | undefined> = [];
  let firstEnded!: () => void;
  const firstDone = new Promise<void>((resolve) => {
    firstEnded = resolve;
  });
  const server = createServer((req, res) => {
    seen.push(req.headers.authorization);
    if (seen.length === 1) {
      onFirst();
      res.once('close', firstEnded);
      res.writeHead(401, { 'content-type': 'text/plain' }).end(Buffer.alloc(16 * 1024 * 1024, 120));
    } else res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    firstDone,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function fetchStatus(keeper: Keeper): Promise<number> {
  const response = await keeper.fetch('api', '/thing');
  await response.arrayBuffer();
  return response.status;
}

async function forwardStatus(keeper: Keeper): Promise<number | undefined> {
  const response = await keeper.forward('api', { method: 'GET', path: '/thing', headers: {} });
  response.resume();
  return response.statusCode;
}

// A long-running process lets go of a session when another process changes its connection
// (keeper.release, the daemon's watch): the next use reads the store again. A request that
// was already under way on that session goes on with a new one instead of failing.
describe('a session let go of under a request in flight', () => {
  async function startRig(onFirst: (keeper: Keeper) => void) {
    const rig = await startFactusRig({ keeper: { proactiveRefresh: false } });
    const api = await startApiThatRejectsOnce(() => onFirst(rig.keeper));
    const { clientId, clientSecret, username, password } = rig.emulator.credentials;
    await rig.keeper.connect('api', {
      provider: 'oauth2',
      grant: 'password',
      baseUrl: api.url,
      tokenUrl: `${rig.emulator.url}/oauth/token`,
      clientId,
      clientSecret,
      username,
      password,
    });
    return {
      ...rig,
      api,
      close: async () => {
        await rig.close();
        await api.close();
      },
    };
  }

  it('keeper.forward let go of before it reads its token still gets one and sends the request', async () => {
    const rig = await startRig(() => undefined);
    try {
      const pending = rig.keeper.forward('api', { method: 'GET', path: '/first', headers: {} });
      rig.keeper.release('api'); // while forward waits for its transport
      const response = await pending;
      response.resume();
      assert.equal(response.statusCode, 401, 'the request reached the API');
    } finally {
      await rig.close();
    }
  });

  for (const via of ['fetch', 'forward'] as const) {
    it(`keeper.${via}: a 401 met after the session was let go of is renewed on the store’s token`, async () => {
      const rig = await startRig((keeper) => keeper.release('api'));
      try {
        const status = via === 'fetch' ? await fetchStatus(rig.keeper) : await forwardStatus(rig.keeper);
        assert.equal(status, 200, 'the request was sent again, not answered with the 401');
        assert.equal(rig.api.seen.length, 2);
        const stored = await rig.keeper.getAccessToken('api');
        assert.deepEqual(
          rig.api.seen,
          [`Bearer ${stored}`, `Bearer ${stored}`],
          'the store’s token both times',
        );
        assert.equal(rig.emulator.stats().tokenRequests.refresh_token, 0, 'the token was young: no refresh');
        const letGo = await Promise.race([
          rig.api.firstDone.then(() => true),
          sleep(3_000).then(() => false),
        ]);
        assert.ok(letGo, 'the 401 was read off its connection or the connection closed, not left to hold it');
      } finally {
        await rig.close();
      }
    });
  }
});

describe('waits go through the injected pacing clock', () => {
  it('waiting for another process’s refresh lock ends by the pacing clock, not by real time', async () => {
    const clock = new FakeClock(Date.now());
    const pacingClock = new FakeClock(Date.now());
    const store = new MemoryTokenStore({ clock });
    const rig = await startFactusRig({ clock, keeper: { store, pacingClock, proactiveRefresh: false } });
    try {
      await rig.keeper.connect('acme', rig.spec);
      await clock.advance(3600_000); // stale
      assert.equal(await store.tryLock('acme', 'another process', 3_600_000), true);
      let settled = false;
      const waiting = rig.keeper.getAccessToken('acme').finally(() => {
        settled = true;
      });
      waiting.catch(() => undefined);
      await pacingClock.advance(1_000);
      assert.equal(settled, false, 'still waiting for the holder after 1 s');
      await pacingClock.advance(60_000); // the default wait, longer than one lease
      await assert.rejects(waiting, (error: TokenkeeperError) => {
        assert.equal(error.code, 'LOCK_TIMEOUT');
        return true;
      });
      assert.equal(
        rig.emulator.stats().tokenRequests.refresh_token,
        0,
        'no refresh behind the holder’s back',
      );
    } finally {
      await rig.close();
    }
  });
});

describe('connect runs the browser step once the endpoints are known', () => {
  it('Factorial: hands the authorization URL to `authorize` and saves what came back', async () => {
    const emulator = await startFactorialEmulator();
    const keeper = createKeeper({ store: new MemoryTokenStore(), proactiveRefresh: false, env: {} });
    try {
      const prompts: AuthorizationPrompt[] = [];
      const redirectUri = emulator.credentials.redirectUris[0] as string;
      const info = await keeper.connect(
        'hr',
        {
          provider: 'factorial',
          baseUrl: emulator.url,
          clientId: emulator.credentials.clientId,
          clientSecret: emulator.credentials.clientSecret,
          scope: 'read write',
        },
        {
          authorize: async (prompt) => {
            prompts.push(prompt);
            const request = await createAuthorizationRequest({
              authorizationUrl: prompt.authorizationUrl,
              clientId: prompt.clientId,
              redirectUri,
              ...(prompt.scope ? { scope: prompt.scope } : {}),
              pkce: prompt.pkce,
            });
            // The emulator approves at once and redirects to the redirect URI with the code.
            const answer = await fetch(request.url, { redirect: 'manual' });
            const location = answer.headers.get('location');
            assert.ok(location, 'the emulator redirected');
            return { code: readAuthorizationResponse(request, location), redirectUri };
          },
        },
      );
      assert.equal(prompts.length, 1);
      assert.equal(prompts[0]?.authorizationUrl, emulator.authorizeUrl);
      assert.equal(prompts[0]?.clientId, emulator.credentials.clientId);
      assert.equal(prompts[0]?.scope, 'read write');
      assert.equal(prompts[0]?.pkce, false, 'Factorial does not use PKCE');
      assert.equal(info.redirectUri, redirectUri);
      assert.equal(info.grant, 'authorization_code');
      const response = await keeper.fetch('hr', '/api/v1/me');
      assert.equal(response.status, 200);
      await response.arrayBuffer();
    } finally {
      await keeper.close();
      await emulator.stop();
    }
  });

  it('a provider without an authorization endpoint is refused before any browser step', async () => {
    const keeper = createKeeper({ store: new MemoryTokenStore(), proactiveRefresh: false, env: {} });
    let asked = false;
    try {
      await assert.rejects(
        keeper.connect(
          'x',
          {
            provider: 'oauth2',
            tokenUrl: 'http://127.0.0.1:9/token',
            grant: 'authorization_code',
            clientId: 'c',
          },
          {
            authorize: async () => {
              asked = true;
              return { code: 'c', redirectUri: 'http://127.0.0.1:8765/callback' };
            },
          },
        ),
        /no authorization endpoint/,
      );
      assert.equal(asked, false);
    } finally {
      await keeper.close();
    }
  });
});

describe('connect against oidc-provider discovers once', () => {
  let server: OidcServer;
  before(async () => {
    server = await startOidcServer();
  });
  after(() => server.stop());

  it('one discovery request serves both the browser step and the saved connection', async () => {
    const seen: string[] = [];
    const countingFetch: typeof fetch = (input, init) => {
      seen.push(new URL(input instanceof Request ? input.url : String(input)).pathname);
      return fetch(input, init);
    };
    const keeper = createKeeper({
      store: new MemoryTokenStore(),
      proactiveRefresh: false,
      fetch: countingFetch,
      env: {},
    });
    try {
      const { clientId, clientSecret, redirectUri } = server.clients.confidential;
      const info = await keeper.connect(
        'oidc',
        {
          provider: 'oauth2',
          issuer: server.issuer,
          clientId,
          clientSecret,
          scope: 'openid offline_access api',
        },
        {
          authorize: async (prompt) => {
            assert.equal(prompt.issuer, server.issuer);
            assert.equal(prompt.pkce, true, 'the metadata lists S256');
            const request = await createAuthorizationRequest({
              authorizationUrl: prompt.authorizationUrl,
              clientId: prompt.clientId,
              redirectUri,
              ...(prompt.scope ? { scope: prompt.scope } : {}),
              pkce: prompt.pkce,
            });
            const callback = await server.authorize(request.url.href);
            const code = readAuthorizationResponse(request, callback, { issuer: server.issuer });
            return {
              code,
              redirectUri,
              ...(request.codeVerifier ? { codeVerifier: request.codeVerifier } : {}),
            };
          },
        },
      );
      assert.equal(info.issuer, server.issuer);
      assert.equal(seen.filter((path) => path.startsWith('/.well-known/')).length, 1);
      assert.ok(await keeper.getAccessToken('oidc'));
    } finally {
      await keeper.close();
    }
  });
});
