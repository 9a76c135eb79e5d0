/**
 * The Factorial profile as the library uses it: the demo environment's host, and
 * per-resource scopes asked for, granted and enforced end to end.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../../src/clock.js';
import { startFactorialEmulator } from '../../src/emulators/factorial/factorial-emulator.js';
import { createKeeper } from '../../src/keeper.js';

const REDIRECT = 'http://127.0.0.1:8765/callback';
const RESOURCES = '/api/2026-07-01/resources';

describe('Factorial profile', () => {
  it('--env demo talks to api.eu2.demo.factorial.dev (the request never leaves the process)', async () => {
    const asked: string[] = [];
    const keeper = createKeeper({
      store: 'memory:',
      env: {},
      proactiveRefresh: false,
      fetch: async (input) => {
        asked.push(String(input instanceof Request ? input.url : input));
        return Response.json({ access_token: 'a'.repeat(64), token_type: 'Bearer', expires_in: 7200 });
      },
    });
    try {
      await keeper.connect('demo', {
        provider: 'factorial',
        environment: 'demo',
        grant: 'authorization_code',
        clientId: 'id',
        clientSecret: 'secret',
        authorizationCode: { code: 'c', redirectUri: REDIRECT },
      });
      // The token request, then the identity request that names the owner for `status`.
      assert.deepEqual(asked, [
        'https://api.eu2.demo.factorial.dev/oauth/token',
        'https://api.eu2.demo.factorial.dev/api/2026-07-01/resources/api_public/credentials',
      ]);
      assert.equal((await keeper.info('demo')).baseUrl, 'https://api.eu2.demo.factorial.dev');
    } finally {
      await keeper.close();
    }
  });

  it('per-resource scopes: asked for space-separated, kept on the connection, enforced by the API', async () => {
    const clock = new FakeClock(Date.UTC(2026, 4, 1));
    const emulator = await startFactorialEmulator({
      now: () => clock.now(),
      appScopes: ['employees', 'documents'],
    });
    const keeper = createKeeper({ store: 'memory:', clock, env: {}, proactiveRefresh: false });
    try {
      const url = new URL(emulator.authorizeUrl);
      url.search = new URLSearchParams({
        client_id: emulator.credentials.clientId,
        redirect_uri: REDIRECT,
        response_type: 'code',
        scope: 'employees',
      }).toString();
      const redirect = await fetch(url, { redirect: 'manual' });
      await redirect.arrayBuffer();
      const code = new URL(redirect.headers.get('location') ?? '').searchParams.get('code') ?? '';
      const info = await keeper.connect('hr', {
        provider: 'factorial',
        baseUrl: emulator.url,
        grant: 'authorization_code',
        clientId: emulator.credentials.clientId,
        clientSecret: emulator.credentials.clientSecret,
        scope: 'employees',
        authorizationCode: { code, redirectUri: REDIRECT },
      });
      assert.equal(info.scope, 'employees');
      const employees = await keeper.fetch('hr', `${RESOURCES}/employees/employees?limit=1`);
      assert.equal(employees.status, 200);
      await employees.arrayBuffer();
      const documents = await keeper.fetch('hr', `${RESOURCES}/documents/documents`);
      assert.equal(documents.status, 403, 'a refusal goes back to the caller as it is');
      assert.equal(((await documents.json()) as { error: string }).error, 'insufficient_scope');
      const identity = await keeper.whoami('hr');
      assert.equal(
        (identity.body as { data: Array<{ login_email: string }> }).data[0]?.login_email,
        'demo@factorial.example',
      );
    } finally {
      await keeper.close();
      await emulator.stop();
    }
  });
});
