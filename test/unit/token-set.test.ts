import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import { expiryFromJwt, TokenSet } from '../../src/token-set.js';

const start = Date.UTC(2026, 5, 1, 12, 0, 0);

function jwt(claims: Record<string, unknown>): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'RS256', typ: 'JWT' })}.${part(claims)}.signature`;
}

describe('TokenSet.fromTokenResponse', () => {
  it('measures expires_in from when the request started', () => {
    const set = TokenSet.fromTokenResponse(
      { access_token: 'a', token_type: 'bearer', expires_in: 3600, refresh_token: 'r' },
      { requestStartedAt: start, defaultLifetimeSeconds: 10 },
    );
    assert.equal(set.expiresAt, start + 3600_000);
    assert.equal(set.obtainedAt, start);
    assert.equal(set.tokenType, 'Bearer');
    assert.equal(set.refreshToken, 'r');
    assert.equal(set.lifetimeMs, 3600_000);
  });

  it('keeps the previous refresh token when the response has none or an empty one', () => {
    const previous = {
      accessToken: 'old',
      tokenType: 'Bearer',
      refreshToken: 'keep-me',
      expiresAt: start,
      obtainedAt: start - 1,
    };
    for (const refresh_token of [undefined, '']) {
      const set = TokenSet.fromTokenResponse(
        {
          access_token: 'new',
          token_type: 'Bearer',
          expires_in: 60,
          ...(refresh_token === undefined ? {} : { refresh_token }),
        },
        { requestStartedAt: start, previous, defaultLifetimeSeconds: 10 },
      );
      assert.equal(set.refreshToken, 'keep-me');
    }
  });

  it('takes a rotated refresh token over the previous one', () => {
    const previous = {
      accessToken: 'old',
      tokenType: 'Bearer',
      refreshToken: 'old-r',
      expiresAt: start,
      obtainedAt: start - 1,
    };
    const set = TokenSet.fromTokenResponse(
      { access_token: 'new', token_type: 'Bearer', expires_in: 60, refresh_token: 'new-r' },
      { requestStartedAt: start, previous, defaultLifetimeSeconds: 10 },
    );
    assert.equal(set.refreshToken, 'new-r');
  });

  it('falls back to the JWT exp claim when expires_in is missing', () => {
    const iat = Math.floor(start / 1000);
    const set = TokenSet.fromTokenResponse(
      { access_token: jwt({ iat, exp: iat + 600 }), token_type: 'Bearer' },
      { requestStartedAt: start, defaultLifetimeSeconds: 10 },
    );
    assert.equal(set.expiresAt, start + 600_000);
  });

  it('applies a JWT lifetime from our clock when the server clock runs ahead', () => {
    const serverNow = Math.floor(start / 1000) + 300; // server 5 minutes ahead
    assert.equal(expiryFromJwt(jwt({ iat: serverNow, exp: serverNow + 600 }), start), start + 600_000);
  });

  it('never believes a JWT lifetime beyond its absolute exp', () => {
    const serverNow = Math.floor(start / 1000) - 300; // server 5 minutes behind
    assert.equal(
      expiryFromJwt(jwt({ iat: serverNow, exp: serverNow + 600 }), start),
      (serverNow + 600) * 1000,
    );
  });

  it('falls back to the configured default when there is no expires_in and no JWT', () => {
    const set = TokenSet.fromTokenResponse(
      { access_token: 'opaque', token_type: 'Bearer' },
      { requestStartedAt: start, defaultLifetimeSeconds: 900 },
    );
    assert.equal(set.expiresAt, start + 900_000);
  });

  it('treats a missing expiry as never expiring only when the provider says so', () => {
    const set = TokenSet.fromTokenResponse(
      { access_token: 'company', token_type: 'Bearer' },
      { requestStartedAt: start, defaultLifetimeSeconds: 900, missingExpiryMeansNever: true },
    );
    assert.equal(set.expiresAt, null);
    assert.equal(set.isExpired(start + 10 * 365 * 86_400_000), false);
  });

  it('counts expires_in from created_at when the token was issued before our request', () => {
    const createdAt = Math.floor(start / 1000) - 1800; // a re-exchanged code returned an older token
    const set = TokenSet.fromTokenResponse(
      { access_token: 'a', token_type: 'Bearer', expires_in: 7200, created_at: createdAt },
      { requestStartedAt: start, defaultLifetimeSeconds: 10 },
    );
    assert.equal(set.expiresAt, createdAt * 1000 + 7200_000);
  });

  it('ignores a created_at in the future (server clock ahead)', () => {
    const set = TokenSet.fromTokenResponse(
      {
        access_token: 'a',
        token_type: 'Bearer',
        expires_in: 7200,
        created_at: Math.floor(start / 1000) + 120,
      },
      { requestStartedAt: start, defaultLifetimeSeconds: 10 },
    );
    assert.equal(set.expiresAt, start + 7200_000);
  });

  it('does not show its tokens when inspected or stringified', () => {
    const set = new TokenSet({
      accessToken: 'SECRET-A',
      tokenType: 'Bearer',
      refreshToken: 'SECRET-R',
      expiresAt: start,
      obtainedAt: start,
    });
    const shown = `${inspect(set)} ${String(set)} ${inspect({ nested: set })}`;
    assert.doesNotMatch(shown, /SECRET/);
    assert.match(inspect(set), /refreshToken: \[present\]/);
  });

  it('caps an absurd expires_in or JWT exp at the last instant a Date holds, never "never expires"', () => {
    // Found by the fuzz suite: expires_in 1e306 gave expiresAt Infinity, which JSON stores as null
    // (a token that never expires) and which util.inspect could not print (RangeError).
    for (const response of [
      { access_token: 'a', token_type: 'bearer', expires_in: 1e306 },
      { access_token: 'a', token_type: 'bearer', expires_in: 1e13 },
      { access_token: jwt({ exp: 1e306 }), token_type: 'bearer' },
    ]) {
      const set = TokenSet.fromTokenResponse(response, {
        requestStartedAt: start,
        defaultLifetimeSeconds: 10,
      });
      assert.equal(set.expiresAt, 8.64e15);
      assert.equal((JSON.parse(JSON.stringify(set)) as { expiresAt: number }).expiresAt, 8.64e15);
      assert.match(inspect(set), /expiresAt: \+275760-09-13T00:00:00.000Z/);
    }
    assert.equal(expiryFromJwt(jwt({ exp: -1e306 }), start), -8.64e15);
  });
});
