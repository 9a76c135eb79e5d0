import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../../src/clock.js';
import {
  type FactorialEmulatorOptions,
  type FactorialRunningEmulator,
  startFactorialEmulator,
} from '../../src/emulators/factorial/factorial-emulator.js';
import type { TokenkeeperError } from '../../src/errors.js';
import {
  createAuthorizationRequest,
  readAuthorizationResponse,
} from '../../src/grants/authorization-code.js';
import { createKeeper, type Keeper } from '../../src/keeper.js';
import { factorialProfile } from '../../src/providers/factorial.js';
import { MemoryTokenStore } from '../../src/store/memory-store.js';
import { factorialCodeSpec, type ObtainedCode } from '../helpers/factorial.js';
import { recordEvents } from '../helpers/factus.js';

const EMPLOYEES = '/api/2026-07-01/resources/employees/employees';
const REDIRECT = 'http://127.0.0.1:8765/callback';

interface Rig {
  clock: FakeClock;
  emulator: FactorialRunningEmulator;
  keeper: Keeper;
  close(): Promise<void>;
}

async function startRig(options: FactorialEmulatorOptions = {}, keeperOptions = {}): Promise<Rig> {
  const clock = new FakeClock(Date.UTC(2026, 4, 1));
  const emulator = await startFactorialEmulator({ now: () => clock.now(), ...options });
  const keeper = createKeeper({
    store: new MemoryTokenStore(),
    clock,
    proactiveRefresh: false,
    env: {},
    ...keeperOptions,
  });
  return {
    clock,
    emulator,
    keeper,
    async close() {
      await keeper.close();
      await emulator.stop();
    },
  };
}

/** A Factorial API-key connection to the emulator, under `provider` (a profile built on Factorial's). */
function apiKeySpec(emulator: FactorialRunningEmulator, provider = 'factorial') {
  return { provider, baseUrl: emulator.url, grant: 'api_key' as const, apiKey: emulator.credentials.apiKey };
}

/** The browser's part, done by hand: the auto-approving emulator redirects with a code at once. */
async function authorizationCode(emulator: FactorialRunningEmulator, extra: Record<string, string> = {}) {
  const request = await createAuthorizationRequest({
    authorizationUrl: emulator.authorizeUrl,
    clientId: emulator.credentials.clientId,
    redirectUri: REDIRECT,
    scope: 'read write',
    pkce: false,
    extraParameters: extra,
  });
  const response = await fetch(request.url, { redirect: 'manual' });
  const location = response.headers.get('location');
  assert.ok(location, `expected a redirect, got HTTP ${response.status}`);
  return { code: readAuthorizationResponse(request, location), redirectUri: REDIRECT };
}

function connectSpec(emulator: FactorialRunningEmulator, code: ObtainedCode) {
  return factorialCodeSpec(emulator, code, 'read write');
}

describe('Factorial through the library', () => {
  it('exchanges the code, honours expires_in from created_at, refreshes with rotation', async () => {
    const rig = await startRig();
    try {
      const info = await rig.keeper.connect(
        'hr',
        connectSpec(rig.emulator, await authorizationCode(rig.emulator)),
      );
      assert.equal(info.expiresAt, rig.clock.now() + 7200_000);
      const first = await rig.keeper.getAccessToken('hr');
      await rig.clock.advance(7200_000 - 30_000);
      const second = await rig.keeper.getAccessToken('hr');
      assert.notEqual(second, first);
      assert.deepEqual(rig.emulator.stats().tokenRequests, {
        total: 2,
        authorization_code: 1,
        refresh_token: 1,
      });
      const response = await rig.keeper.fetch('hr', `${EMPLOYEES}?limit=1`);
      assert.equal(response.status, 200);
      await response.arrayBuffer();
    } finally {
      await rig.close();
    }
  });

  it('a re-exchanged code that returns the same, older token keeps its real expiry', async () => {
    const rig = await startRig({ reusedCode: 'same-token' });
    try {
      const code = await authorizationCode(rig.emulator);
      const issuedAt = rig.clock.now();
      await rig.keeper.connect('first', connectSpec(rig.emulator, code));
      await rig.clock.advance(300_000); // within the code's 10-minute life
      const again = await rig.keeper.connect('second', connectSpec(rig.emulator, code));
      assert.equal(await rig.keeper.getAccessToken('second'), await rig.keeper.getAccessToken('first'));
      assert.ok(again.expiresAt! <= issuedAt + 7200_000, 'never later than the token really expires');
    } finally {
      await rig.close();
    }
  });

  it('company tokens come without expires_in and are kept as never expiring, on purpose', async () => {
    const rig = await startRig();
    try {
      const code = await authorizationCode(rig.emulator, { resource_owner_type: 'company' });
      const info = await rig.keeper.connect('company', connectSpec(rig.emulator, code));
      assert.equal(info.expiresAt, null);
      const token = await rig.keeper.getAccessToken('company');
      await rig.clock.advance(365 * 86_400_000);
      assert.equal(await rig.keeper.getAccessToken('company'), token);
      assert.equal(rig.emulator.stats().tokenRequests.refresh_token, 0);
    } finally {
      await rig.close();
    }
  });

  it('a rejected refresh token marks the connection for re-login, with the provider’s words', async () => {
    const rig = await startRig({ refreshTtlSeconds: 3600 });
    try {
      const events = recordEvents(rig.keeper);
      await rig.keeper.connect('hr', connectSpec(rig.emulator, await authorizationCode(rig.emulator)));
      await rig.clock.advance(3 * 3600_000); // access and refresh tokens both expired
      await assert.rejects(rig.keeper.getAccessToken('hr'), (error: TokenkeeperError) => {
        assert.equal(error.code, 'REAUTH_REQUIRED');
        assert.match(error.message, /tokenkeeper login hr/);
        return true;
      });
      assert.equal(rig.emulator.stats().invalidGrant, 1);
      assert.equal((await rig.keeper.info('hr')).state, 'reauth_required');
      assert.deepEqual(events.names(), ['token', 'reauth_required']);
      await assert.rejects(rig.keeper.getAccessToken('hr'), /needs a new login/);
      assert.equal(rig.emulator.stats().tokenRequests.refresh_token, 1, 'no second attempt');
    } finally {
      await rig.close();
    }
  });

  it('a wrong client secret is reported with the provider’s description and what to fix', async () => {
    const rig = await startRig();
    try {
      const spec = {
        ...connectSpec(rig.emulator, await authorizationCode(rig.emulator)),
        clientSecret: 'wrong',
      };
      await assert.rejects(rig.keeper.connect('hr', spec), (error: TokenkeeperError) => {
        assert.equal(error.error, 'invalid_client');
        assert.match(error.message, /Client authentication failed/);
        assert.match(error.message, /Check the client id and client secret/);
        assert.doesNotMatch(error.message, /wrong/);
        return true;
      });
    } finally {
      await rig.close();
    }
  });

  it('refresh() of an API key says there is nothing to refresh, whether or not the key is held', async () => {
    const rig = await startRig();
    try {
      await rig.keeper.connect('key', apiKeySpec(rig.emulator, 'factorial'));
      const refused = (error: TokenkeeperError) => {
        assert.equal(error.code, 'CONFIG');
        assert.match(
          error.message,
          /Connection "key" uses an API key, which does not expire: there is nothing to refresh/,
        );
        return true;
      };
      // Not held: the refresher learns the grant from the store.
      rig.keeper.release('key');
      await assert.rejects(rig.keeper.refresh('key'), refused);
      // Held, after a request: the same answer.
      const response = await rig.keeper.fetch('key', EMPLOYEES);
      await response.arrayBuffer();
      await assert.rejects(rig.keeper.refresh('key'), refused);
      const after = await rig.keeper.fetch('key', EMPLOYEES);
      assert.equal(after.status, 200, 'the key still works');
      await after.arrayBuffer();
      assert.equal(rig.emulator.stats().tokenRequests.total, 0, 'nothing was asked of the token endpoint');
    } finally {
      await rig.close();
    }
  });

  it('the identity check of a login counts in the connection’s shared rate-limit budget', async () => {
    const taken: string[] = [];
    // A store with shared budgets (as SQLite, PostgreSQL and Redis have) that records what is taken.
    class CountingStore extends MemoryTokenStore {
      readonly rateLimits = {
        take: async (budget: string) => {
          taken.push(budget);
          return 0;
        },
        holdOff: async () => {},
      };
    }
    const limited = {
      ...factorialProfile,
      id: 'factorial-limited',
      rateLimits: [{ label: 'every request (test)', limit: 100, windowMs: 60_000 }],
    };
    const rig = await startRig({}, { store: new CountingStore(), providers: [limited] });
    try {
      await rig.keeper.connect('key', apiKeySpec(rig.emulator, 'factorial-limited'));
      assert.ok(rig.emulator.stats().apiRequests >= 1, 'the key was tried at login');
      assert.deepEqual(new Set(taken), new Set(['key#0']), 'in the budget the connection’s requests use');
      assert.equal(taken.length, rig.emulator.stats().apiRequests);
    } finally {
      await rig.close();
    }
  });

  it('300 POSTs in a burst all succeed with zero 429s: the client waits for free slots', async () => {
    // Real time: the emulator's rate-limit window is a real minute.
    const emulator = await startFactorialEmulator();
    const sentAt: number[] = [];
    const keeper = createKeeper({
      store: new MemoryTokenStore(),
      proactiveRefresh: false,
      env: {},
      fetch: (input, init) => {
        if (init?.method === 'POST' && String(input).includes('/employees')) sentAt.push(Date.now());
        return fetch(input, init);
      },
    });
    try {
      await keeper.connect('key', apiKeySpec(emulator));
      const statuses = await Promise.all(
        Array.from({ length: 300 }, async (_, i) => {
          const response = await keeper.fetch('key', EMPLOYEES, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({
              first_name: 'Burst',
              last_name: String(i),
              email: `burst${i}@example.com`,
            }),
          });
          await response.arrayBuffer();
          return response.status;
        }),
      );
      assert.deepEqual(new Set(statuses), new Set([201]));
      assert.equal(emulator.stats().rateLimited, 0);
      assert.equal(sentAt.length, 300, 'each POST was sent exactly once');
      // Within the limit: no 60-second window saw more than 200 POSTs.
      sentAt.sort((a, b) => a - b);
      for (let i = 200; i < sentAt.length; i++) assert.ok(sentAt[i]! - sentAt[i - 200]! >= 60_000);
    } finally {
      await keeper.close();
      await emulator.stop();
    }
  });
});
