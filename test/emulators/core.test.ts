import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FakeClock } from '../../src/clock.js';
import { type ErrorStyle, leagueErrorStyle } from '../../src/emulators/core/error-style.js';
import type { FaultInjector } from '../../src/emulators/core/faults.js';
import { refreshTokenGrant } from '../../src/emulators/core/grants.js';
import { startOAuthEmulator } from '../../src/emulators/core/oauth-emulator.js';
import { FixedWindowRateLimiter } from '../../src/emulators/core/rate-limiter.js';
import { jsonResponse } from '../../src/emulators/core/router.js';
import { TokenAuthority } from '../../src/emulators/core/token-authority.js';
import type { GrantHandler } from '../../src/emulators/core/token-endpoint.js';
import { readJson } from './helpers.js';

describe('TokenAuthority', () => {
  const make = (options: Partial<ConstructorParameters<typeof TokenAuthority>[0]> = {}) => {
    const clock = new FakeClock();
    const authority = new TokenAuthority({
      accessTtlSeconds: 60,
      refreshTtlSeconds: 600,
      now: () => clock.now(),
      ...options,
    });
    authority.addClient({ id: 'c1', secret: 's1' });
    authority.addClient({ id: 'c2', secret: 's2' });
    authority.addUser({ id: 'u1', username: 'user', password: 'pw' });
    return { authority, clock };
  };

  test('authenticates clients and users by exact secret', () => {
    const { authority } = make();
    assert.equal(authority.authenticateClient('c1', 's1')?.id, 'c1');
    assert.equal(authority.authenticateClient('c1', 's2'), undefined);
    assert.equal(authority.authenticateClient('nobody', 's1'), undefined);
    assert.equal(authority.authenticateUser('user', 'pw')?.id, 'u1');
    assert.equal(authority.authenticateUser('user', 'PW'), undefined);
  });

  test('a refresh token is bound to its client', () => {
    const { authority } = make();
    const issued = authority.issueTokens('c1', 'u1');
    assert.deepEqual(authority.refresh('c2', issued.refreshToken!.token), {
      ok: false,
      reason: 'wrong_client',
    });
  });

  test('revoke-family: reusing a rotated token kills every token of the family', () => {
    const { authority } = make({ onRefreshTokenReuse: 'revoke-family' });
    const first = authority.issueTokens('c1', 'u1');
    const second = authority.refresh('c1', first.refreshToken!.token);
    assert.ok(second.ok);
    const unrelated = authority.issueTokens('c1', 'u1');
    assert.deepEqual(authority.refresh('c1', first.refreshToken!.token), { ok: false, reason: 'revoked' });
    assert.deepEqual(authority.refresh('c1', second.tokens.refreshToken!.token), {
      ok: false,
      reason: 'revoked',
    });
    assert.deepEqual(authority.verifyAccessToken(second.tokens.accessToken.token), {
      ok: false,
      reason: 'revoked',
    });
    assert.ok(authority.verifyAccessToken(unrelated.accessToken.token).ok);
  });

  test('revokeRefreshToken also revokes its access token', () => {
    const { authority } = make();
    const issued = authority.issueTokens('c1', 'u1');
    assert.equal(authority.revokeRefreshToken(issued.refreshToken!.token), true);
    assert.deepEqual(authority.verifyAccessToken(issued.accessToken.token), { ok: false, reason: 'revoked' });
    assert.deepEqual(authority.refresh('c1', issued.refreshToken!.token), { ok: false, reason: 'revoked' });
    assert.equal(authority.revokeRefreshToken('unknown'), false);
  });

  test('access tokens expire at issue time + ttl', async () => {
    const { authority, clock } = make();
    const issued = authority.issueTokens('c1', 'u1');
    assert.equal(issued.accessToken.expiresAtMs - issued.accessToken.issuedAtMs, 60_000);
    await clock.advance(59_999);
    assert.ok(authority.verifyAccessToken(issued.accessToken.token).ok);
    await clock.advance(1);
    assert.deepEqual(authority.verifyAccessToken(issued.accessToken.token), { ok: false, reason: 'expired' });
  });
});

describe('FixedWindowRateLimiter', () => {
  test('opens a window at the first hit, refuses without counting, then reopens', async () => {
    const clock = new FakeClock(0);
    const limiter = new FixedWindowRateLimiter({ limit: 2, now: () => clock.now() });
    await clock.advance(10_000);
    assert.deepEqual(limiter.hit('a'), {
      allowed: true,
      limit: 2,
      remaining: 1,
      resetAtMs: 70_000,
      retryAfterSeconds: 60,
    });
    assert.equal(limiter.hit('a').remaining, 0);
    assert.equal(limiter.hit('b').allowed, true);
    await clock.advance(59_500);
    const refused = limiter.hit('a');
    assert.equal(refused.allowed, false);
    assert.equal(refused.retryAfterSeconds, 1);
    await clock.advance(500);
    assert.equal(limiter.hit('a').allowed, true);
  });
});

/**
 * A made-up provider written only against the core, the way a Factorial emulator will be:
 * opaque tokens, its own grant and error style, a JSON token body, and a fault injector.
 */
describe('a provider built on the core alone', () => {
  const doorkeeperLikeStyle: ErrorStyle = {
    ...leagueErrorStyle,
    tokenError: (failure) => {
      const error = failure.kind === 'invalid_refresh_token' ? 'invalid_grant' : failure.kind;
      return {
        ...jsonResponse(failure.kind === 'invalid_client' ? 401 : 400, { error, error_description: error }),
        error,
      };
    },
    unauthenticated: (reason) =>
      jsonResponse(
        401,
        { error: 'invalid_token' },
        {
          'www-authenticate': `Bearer realm="Doorkeeper", error="invalid_token", error_description="${reason}"`,
        },
      ),
  };

  const codeGrant: GrantHandler = ({ params, client, authority }) =>
    params.code === 'good-code'
      ? { ok: true, tokens: authority.issueTokens(client.id, 'employee-7', ['read']) }
      : { ok: false, failure: { kind: 'invalid_request', parameter: 'code' } };

  test('issues, protects, counts, and lets a fault injector take over the token endpoint', async () => {
    const authority = new TokenAuthority({ accessTtlSeconds: 7200, refreshTtlSeconds: 604800 });
    authority.addClient({ id: 'app', secret: 'shh' });
    let failNext = false;
    const faults: FaultInjector = {
      around: async (point, _request, next) =>
        point === 'token' && failNext ? jsonResponse(503, { message: 'down for a bit' }) : next(),
    };
    const server = await startOAuthEmulator({
      authority,
      grants: { authorization_code: codeGrant, refresh_token: refreshTokenGrant },
      errorStyle: doorkeeperLikeStyle,
      rateLimitPerMinute: 100,
      faults,
      tokenResponseBody: (tokens) => ({
        access_token: tokens.accessToken.token,
        token_type: 'Bearer',
        expires_in: tokens.expiresInSeconds,
        refresh_token: tokens.refreshToken?.token,
        scope: tokens.accessToken.scopes.join(' '),
        created_at: Math.floor(tokens.accessToken.issuedAtMs / 1000),
      }),
      routes: ({ router, api }) => {
        router.add(
          'GET',
          '/api/v1/me',
          api((_request, auth) => jsonResponse(200, { employee_id: auth.subject })),
        );
      },
    });
    try {
      const token = await readJson(
        await fetch(server.tokenUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            grant_type: 'authorization_code',
            client_id: 'app',
            client_secret: 'shh',
            code: 'good-code',
          }),
        }),
      );
      assert.equal(token.status, 200);
      assert.match(token.body.access_token as string, /^[0-9a-f]{64}$/);
      assert.equal(token.body.scope, 'read');

      const me = await readJson(
        await fetch(`${server.url}/api/v1/me`, {
          headers: { authorization: `Bearer ${token.body.access_token}` },
        }),
      );
      assert.deepEqual(me.body, { employee_id: 'employee-7' });

      const denied = await fetch(`${server.url}/api/v1/me`, { headers: { authorization: 'Bearer nope' } });
      assert.equal(denied.status, 401);
      assert.match(denied.headers.get('www-authenticate') ?? '', /error="invalid_token"/);

      failNext = true;
      const faulted = await fetch(server.tokenUrl, { method: 'POST' });
      assert.equal(faulted.status, 503);

      assert.deepEqual(server.stats(), {
        tokenRequests: { total: 1, authorization_code: 1, refresh_token: 0 },
        invalidGrant: 0,
        apiRequests: 2,
        unauthorized: 1,
        rateLimited: 0,
        faults: { total: 0, token: 0, api: 0 },
      });
    } finally {
      await server.stop();
    }
  });

  test('a handler that throws is a 500 without details', async () => {
    const authority = new TokenAuthority({ accessTtlSeconds: 60, refreshTtlSeconds: 60 });
    const server = await startOAuthEmulator({
      authority,
      grants: {},
      errorStyle: leagueErrorStyle,
      rateLimitPerMinute: 1,
      routes: ({ router }) => {
        router.add('GET', '/boom', () => {
          throw new Error('secret detail');
        });
      },
    });
    try {
      const reply = await readJson(await fetch(`${server.url}/boom`));
      assert.equal(reply.status, 500);
      assert.deepEqual(reply.body, { message: 'Server Error' });
    } finally {
      await server.stop();
    }
  });
});
