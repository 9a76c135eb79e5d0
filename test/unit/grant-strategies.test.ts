import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GRANT_TYPES, grantStrategy, isGrantType } from '../../src/grants/strategies.js';
import { bufferedRequest } from '../../src/http/buffered-request.js';
import { factorialProfile } from '../../src/providers/factorial.js';
import { factusProfile } from '../../src/providers/factus.js';

const required = (grant: Parameters<typeof grantStrategy>[0]) =>
  grantStrategy(grant)
    .fields.filter((need) => need.required)
    .map((need) => need.field);

describe('grant strategies', () => {
  it('cover every grant a provider profile names', () => {
    assert.deepEqual([...GRANT_TYPES].sort(), [
      'api_key',
      'authorization_code',
      'client_credentials',
      'password',
    ]);
    for (const grant of [...factusProfile.grants, ...factorialProfile.grants]) assert.ok(isGrantType(grant));
    assert.equal(isGrantType('implicit'), false);
    assert.equal(isGrantType('toString'), false);
  });

  it('say which credentials connect requires', () => {
    assert.deepEqual(required('password'), ['clientId', 'username', 'password']);
    assert.deepEqual(required('client_credentials'), ['clientId']);
    assert.deepEqual(required('authorization_code'), ['clientId']);
    assert.deepEqual(required('api_key'), ['apiKey']);
    const secret = grantStrategy('authorization_code').fields.find((need) => need.field === 'clientSecret');
    assert.equal(secret?.emptyForPublicClient, true, 'a public client may log in without a secret');
  });

  it('run unattended only with what the grant needs saved', () => {
    assert.equal(grantStrategy('password').canRunUnattended({ username: 'u', password: 'p' }), true);
    assert.equal(grantStrategy('password').canRunUnattended({ username: 'u' }), false);
    assert.equal(grantStrategy('client_credentials').canRunUnattended({ clientId: 'c' }), true);
    assert.equal(grantStrategy('authorization_code').canRunUnattended({ clientId: 'c' }), false);
    assert.equal(grantStrategy('api_key').canRunUnattended({ apiKey: 'k' }), false);
  });

  it('put an API key in the profile’s header and every OAuth token in a Bearer Authorization', () => {
    assert.deepEqual(grantStrategy('api_key').credential('k', factorialProfile), {
      header: 'x-api-key',
      value: 'k',
    });
    assert.deepEqual(grantStrategy('api_key').credential('k', { apiKeyHeader: 'x-token' }), {
      header: 'x-token',
      value: 'k',
    });
    for (const grant of ['password', 'client_credentials', 'authorization_code'] as const) {
      assert.deepEqual(grantStrategy(grant).credential('t', factorialProfile), {
        header: 'authorization',
        value: 'Bearer t',
      });
      assert.equal(grantStrategy(grant).credentialHeader(factorialProfile), 'authorization');
    }
  });

  it('say which grants refresh, revoke, need a browser, or are checked before saving', () => {
    const facts = Object.fromEntries(
      GRANT_TYPES.map((grant) => {
        const s = grantStrategy(grant);
        return [grant, [s.refreshable, s.revocable, s.needsBrowser, s.checkedAtLogin]];
      }),
    );
    assert.deepEqual(facts, {
      password: [true, true, false, false],
      client_credentials: [true, true, false, false],
      authorization_code: [true, true, true, false],
      api_key: [false, false, false, true],
    });
  });

  it('refuse to run a grant that needs a person unattended, naming the command', async () => {
    const input = { client: undefined, credentials: {}, connection: 'hr', now: 0 };
    const ctx = {
      authServerFetch: bufferedRequest,
      now: () => 0,
      timeoutMs: 1000,
      connection: 'hr',
      loginHint: 'tokenkeeper login hr',
    };
    await assert.rejects(
      grantStrategy('authorization_code').obtainUnattended(input, ctx),
      /tokenkeeper login hr/,
    );
    await assert.rejects(grantStrategy('authorization_code').firstTokens(input, ctx), /authorization code/);
  });
});
