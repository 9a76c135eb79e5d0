/**
 * Properties of the token-response parser: TokenSet.fromTokenResponse (and its JWT `exp`
 * fallback) on its own, and the whole path from a raw token-endpoint HTTP response through
 * requestTokens, driven by a fetch seam that answers with arbitrary statuses, headers and
 * bodies (or fails). No crash, only typed errors, and a valid token set out of every success.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import { clientCredentialsGrant } from '../../src/grants/client-credentials.js';
import { passwordGrant } from '../../src/grants/password.js';
import { refreshTokenGrant } from '../../src/grants/refresh-token.js';
import type { ClientConfig, GrantResult, TokenRequestContext } from '../../src/grants/token-endpoint.js';
import { bufferedThrough } from '../../src/http/buffered-request.js';
import {
  expiryFromJwt,
  type FromTokenResponseOptions,
  type TokenResponseFields,
  TokenSet,
  type TokenSetData,
} from '../../src/token-set.js';
import { assertTyped, fc, fuzzParams } from './fuzz-settings.js';

/** The largest instant a Date can hold (ECMA-262 §21.4.1.22). */
const MAX_DATE_MS = 8.64e15;

function b64url(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

const numberish = fc.oneof(
  fc.integer({ min: 0, max: 5_000_000_000 }),
  fc.integer(),
  fc.double(),
  fc.constantFrom(1e306, -1e306, 8.64e12, Number.MAX_SAFE_INTEGER, Number.MAX_VALUE, -0),
  fc.string({ maxLength: 6 }),
  fc.constant(null),
);

/** A JWT-shaped token whose payload may say anything about exp and iat, or an opaque token. */
const accessToken = fc.oneof(
  fc
    .record({ exp: numberish, iat: numberish, sub: fc.string({ maxLength: 8 }) }, { requiredKeys: [] })
    .map((claims) => `${b64url({ alg: 'RS256' })}.${b64url(claims)}.sig`),
  fc.jsonValue({ maxDepth: 2 }).map((payload) => `${b64url({ alg: 'none' })}.${b64url(payload)}.`),
  fc
    .tuple(fc.string({ maxLength: 12 }), fc.string({ maxLength: 12 }), fc.string({ maxLength: 12 }))
    .map((parts) => parts.join('.')),
  fc.string({ minLength: 1, maxLength: 40 }),
);

const tokenResponse: fc.Arbitrary<TokenResponseFields> = fc
  .record(
    {
      access_token: accessToken,
      token_type: fc.oneof(fc.constantFrom('bearer', 'Bearer', 'BEARER', 'DPoP', 'mac'), fc.string()),
      expires_in: fc.oneof(
        fc.integer({ min: -10, max: 400_000_000 }),
        fc.double(),
        fc.constantFrom(1e306, 1e13, Number.MAX_VALUE),
      ),
      refresh_token: fc.string({ maxLength: 20 }),
      scope: fc.string({ maxLength: 20 }),
      created_at: numberish,
    },
    { requiredKeys: ['access_token', 'token_type'] },
  )
  .map((response) => response as TokenResponseFields);

const previousTokens: fc.Arbitrary<TokenSetData | undefined> = fc.option(
  fc.record(
    {
      accessToken: fc.string({ minLength: 1, maxLength: 10 }),
      tokenType: fc.constant('Bearer'),
      refreshToken: fc.string({ minLength: 1, maxLength: 10 }),
      scope: fc.string({ maxLength: 10 }),
      expiresAt: fc.option(fc.integer({ min: 0, max: 4e12 }), { nil: null }),
      obtainedAt: fc.integer({ min: 0, max: 4e12 }),
    },
    { requiredKeys: ['accessToken', 'tokenType', 'expiresAt', 'obtainedAt'] },
  ),
  { nil: undefined },
);

const parseOptions: fc.Arbitrary<FromTokenResponseOptions> = fc
  .record({
    requestStartedAt: fc.integer({ min: 0, max: 4_102_444_800_000 }),
    defaultLifetimeSeconds: fc.integer({ min: 1, max: 10 * 365 * 86_400 }),
    missingExpiryMeansNever: fc.boolean(),
    previous: previousTokens,
  })
  .map(({ previous, ...rest }) => (previous === undefined ? rest : { ...rest, previous }));

/** What every TokenSet must satisfy, whatever the response said. */
function checkTokenSet(
  set: TokenSet,
  response: TokenResponseFields,
  options: FromTokenResponseOptions,
): void {
  assert.equal(set.accessToken, response.access_token);
  assert.equal(set.obtainedAt, options.requestStartedAt);
  if (set.expiresAt === null) {
    // "Never expires" only when the provider says so and the response gave no usable expiry.
    assert.equal(options.missingExpiryMeansNever, true, 'a token never expires only on purpose');
    assert.ok(!(typeof response.expires_in === 'number' && Number.isFinite(response.expires_in)));
  } else {
    assert.ok(Number.isFinite(set.expiresAt), `expiresAt ${set.expiresAt} is a finite instant`);
    assert.ok(Math.abs(set.expiresAt) <= MAX_DATE_MS, `expiresAt ${set.expiresAt} fits in a Date`);
    assert.ok(Number.isFinite(set.lifetimeMs));
  }
  // A stored token set reads back the same: no expiry silently turned into "never".
  const stored = JSON.parse(JSON.stringify(set)) as TokenSetData;
  assert.equal(stored.expiresAt, set.expiresAt);
  // The refresh token is the response's, or the one it replaces when the response has none.
  const expectedRefresh = response.refresh_token || options.previous?.refreshToken || undefined;
  assert.equal(set.refreshToken, expectedRefresh);
  // Printing never throws and never shows a token.
  const printed = inspect(set);
  if (response.access_token.length >= 6 && !set.tokenType.includes(response.access_token)) {
    assert.ok(!printed.includes(response.access_token), 'inspect shows no access token');
  }
  assert.equal(String(set), '[TokenSet]');
}

describe('fuzz: TokenSet.fromTokenResponse', () => {
  it('never throws, and always gives a representable expiry that survives storage', () => {
    fc.assert(
      fc.property(tokenResponse, parseOptions, (response, options) => {
        checkTokenSet(TokenSet.fromTokenResponse(response, options), response, options);
      }),
      fuzzParams(800),
    );
  });

  it('measures a plausible expires_in from the request start', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10 * 365 * 86_400 }),
        parseOptions,
        accessToken,
        (expiresIn, options, token) => {
          const set = TokenSet.fromTokenResponse(
            { access_token: token, token_type: 'bearer', expires_in: expiresIn },
            options,
          );
          assert.equal(set.expiresAt, options.requestStartedAt + expiresIn * 1000);
          assert.equal(set.tokenType, 'Bearer');
        },
      ),
      fuzzParams(300),
    );
  });

  it('falls back to the JWT exp (and iat) when expires_in is missing', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4_102_444_800 }),
        fc.option(fc.integer({ min: 0, max: 4_102_444_800 }), { nil: undefined }),
        parseOptions,
        (exp, iat, options) => {
          const claims = iat === undefined ? { exp } : { exp, iat };
          const token = `${b64url({ alg: 'RS256' })}.${b64url(claims)}.sig`;
          const set = TokenSet.fromTokenResponse({ access_token: token, token_type: 'Bearer' }, options);
          const expected =
            iat !== undefined && exp >= iat
              ? Math.min(exp * 1000, options.requestStartedAt + (exp - iat) * 1000)
              : exp * 1000;
          assert.equal(set.expiresAt, expected);
        },
      ),
      fuzzParams(300),
    );
  });

  it('expiryFromJwt reads any string without throwing', () => {
    fc.assert(
      fc.property(
        fc.oneof(accessToken, fc.string(), fc.string({ unit: 'binary' })),
        fc.integer({ min: 0, max: 4e12 }),
        (token, start) => {
          const expiry = expiryFromJwt(token, start);
          if (expiry !== undefined) assert.ok(Number.isFinite(expiry), `finite, got ${expiry}`);
        },
      ),
      fuzzParams(500),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// From a raw HTTP response through requestTokens.

const CLIENT_SECRET = 'fuzz-client-secret-4b9e';
const PASSWORD = 'fuzz-password-d81c';
const REFRESH_TOKEN = 'fuzz-refresh-token-77a0';

const printable = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)),
  maxLength: 40,
});

const contentType = fc.option(
  fc.oneof(
    fc.constantFrom(
      'application/json',
      'application/json; charset=utf-8',
      'Application/JSON',
      'application/problem+json',
      'text/html',
      'text/plain',
      'application/x-www-form-urlencoded',
    ),
    printable,
  ),
  { nil: undefined },
);

const wwwAuthenticate = fc.option(
  fc.oneof(
    fc.constantFrom(
      'Bearer realm="Doorkeeper", error="invalid_client", error_description="Client authentication failed"',
      'Bearer error="invalid_grant"',
      'Basic realm="api"',
      'Bearer',
      'Bearer ,,,',
      'Bearer error=',
      'Bearer error="unterminated',
      ', , Bearer error="x"',
    ),
    printable,
  ),
  { nil: undefined },
);

const validTokenBody = fc.record(
  {
    access_token: accessToken,
    token_type: fc.constantFrom('bearer', 'Bearer', 'BEARER'),
    expires_in: fc.oneof(fc.integer({ min: 0, max: 400_000_000 }), fc.constantFrom(1e306, -5)),
    refresh_token: fc.string({ maxLength: 20 }),
    scope: fc.string({ maxLength: 20 }),
    created_at: numberish,
  },
  { requiredKeys: ['access_token', 'token_type'] },
);

const oauthErrorBody = fc.record(
  {
    error: fc.oneof(
      fc.constantFrom(
        'invalid_grant',
        'invalid_client',
        'unauthorized_client',
        'invalid_request',
        'slow_down',
      ),
      fc.string({ maxLength: 12 }),
      fc.integer(),
    ),
    error_description: fc.oneof(fc.string({ maxLength: 30 }), fc.integer(), fc.constant(null)),
    error_uri: fc.string({ maxLength: 10 }),
  },
  { requiredKeys: [] },
);

const bodyText = fc.oneof(
  { weight: 3, arbitrary: validTokenBody.map((body) => JSON.stringify(body)) },
  { weight: 2, arbitrary: oauthErrorBody.map((body) => JSON.stringify(body)) },
  {
    weight: 2,
    arbitrary: fc
      .dictionary(
        fc.constantFrom(
          'access_token',
          'token_type',
          'expires_in',
          'refresh_token',
          'scope',
          'id_token',
          'error',
        ),
        fc.jsonValue({ maxDepth: 1 }),
      )
      .map((body) => JSON.stringify(body)),
  },
  { weight: 1, arbitrary: fc.json({ maxDepth: 2 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 60 }) },
  { weight: 1, arbitrary: fc.constantFrom('', '<html><body>Login</body></html>', '{', 'null', '[]', '"x"') },
  { weight: 1, arbitrary: fc.constant('x'.repeat(70 * 1024)) },
);

interface RawReply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const rawReply: fc.Arbitrary<RawReply> = fc
  .record({
    status: fc.oneof(
      fc.constantFrom(200, 200, 201, 204, 301, 400, 401, 403, 404, 429, 500, 502, 503),
      fc.integer({ min: 200, max: 599 }),
    ),
    contentType,
    wwwAuthenticate,
    retryAfter: fc.option(fc.oneof(fc.nat().map(String), printable, fc.constant('9'.repeat(400))), {
      nil: undefined,
    }),
    contentLength: fc.option(fc.oneof(fc.nat().map(String), printable), { nil: undefined }),
    body: bodyText,
  })
  .map(({ status, contentType, wwwAuthenticate, retryAfter, contentLength, body }) => {
    const headers: Record<string, string> = {};
    if (contentType !== undefined) headers['content-type'] = contentType;
    if (wwwAuthenticate !== undefined) headers['www-authenticate'] = wwwAuthenticate;
    if (retryAfter !== undefined) headers['retry-after'] = retryAfter;
    if (contentLength !== undefined) headers['content-length'] = contentLength;
    return { status, headers, body };
  });

/** What a failing fetch can throw: undici's network error, an abort, or whatever a custom fetch throws. */
type FetchFailure =
  | { fail: 'network'; code: string }
  | { fail: 'abort'; name: string }
  | { fail: 'error'; message: string }
  | { fail: 'value'; value: unknown };

const fetchFailure: fc.Arbitrary<FetchFailure> = fc.oneof(
  fc.record({
    fail: fc.constant('network' as const),
    code: fc.constantFrom('ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'UND_ERR_SOCKET'),
  }),
  fc.record({ fail: fc.constant('abort' as const), name: fc.constantFrom('AbortError', 'TimeoutError') }),
  fc.record({ fail: fc.constant('error' as const), message: fc.string({ maxLength: 20 }) }),
  fc.record({
    fail: fc.constant('value' as const),
    value: fc.oneof(fc.string({ maxLength: 10 }), fc.integer(), fc.constant(null), fc.constant(undefined)),
  }),
);

function thrownBy(failure: FetchFailure): unknown {
  switch (failure.fail) {
    case 'network':
      return new TypeError('fetch failed', {
        cause: Object.assign(new Error(failure.code), { code: failure.code }),
      });
    case 'abort':
      return new DOMException('aborted', failure.name);
    case 'error':
      return new Error(failure.message);
    case 'value':
      return failure.value;
  }
}

type Grant = (config: ClientConfig, ctx: TokenRequestContext) => Promise<GrantResult>;
const grants: Record<string, Grant> = {
  client_credentials: (config, ctx) => clientCredentialsGrant(config, ctx, 'read'),
  password: (config, ctx) => passwordGrant(config, { username: 'user@example.com', password: PASSWORD }, ctx),
  refresh_token: (config, ctx) => refreshTokenGrant(config, REFRESH_TOKEN, ctx),
};

function isPlainValidTokenReply(reply: RawReply): boolean {
  if (reply.status !== 200 || reply.headers['www-authenticate'] !== undefined) return false;
  if (reply.headers['content-length'] !== undefined) return false;
  if (!/^application\/json(;|$)/i.test(reply.headers['content-type'] ?? '')) return false;
  try {
    const body = JSON.parse(reply.body) as Record<string, unknown>;
    return (
      typeof body.access_token === 'string' &&
      body.access_token !== '' &&
      typeof body.token_type === 'string' &&
      body.token_type.toLowerCase() === 'bearer' &&
      (body.expires_in === undefined || typeof body.expires_in === 'number') &&
      (body.refresh_token === undefined || typeof body.refresh_token === 'string') &&
      (body.scope === undefined || typeof body.scope === 'string') &&
      body.id_token === undefined
    );
  } catch {
    return false;
  }
}

function isOAuthErrorReply(reply: RawReply): boolean {
  if (reply.status < 400 || reply.status > 499 || reply.headers['www-authenticate'] !== undefined)
    return false;
  if (reply.headers['content-length'] !== undefined) return false;
  if (!/^application\/json(;|$)/i.test(reply.headers['content-type'] ?? '')) return false;
  try {
    const body = JSON.parse(reply.body) as Record<string, unknown>;
    return typeof body.error === 'string' && body.error !== '';
  } catch {
    return false;
  }
}

describe('fuzz: raw token-endpoint responses through requestTokens', () => {
  const start = Date.UTC(2026, 8, 1);

  it('resolves to a usable token response, or rejects with a typed error that holds no secret', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...Object.keys(grants)),
        fc.constantFrom('client_secret_basic', 'client_secret_post', 'none') as fc.Arbitrary<
          ClientConfig['clientAuthMethod']
        >,
        fc.oneof({ weight: 5, arbitrary: rawReply }, { weight: 1, arbitrary: fetchFailure }),
        async (grantName, clientAuthMethod, outcome) => {
          const config: ClientConfig = {
            tokenUrl: 'http://127.0.0.1:9/oauth/token',
            clientId: 'fuzz-client',
            clientSecret: CLIENT_SECRET,
            clientAuthMethod,
          };
          const ctx: TokenRequestContext = {
            authServerFetch: bufferedThrough(async () => {
              if ('fail' in outcome) throw thrownBy(outcome);
              return new Response([204, 205, 304].includes(outcome.status) ? null : outcome.body, {
                status: outcome.status,
                headers: outcome.headers,
              });
            }),
            now: () => start,
            timeoutMs: 5_000,
            connection: 'acme',
            loginHint: 'tokenkeeper login acme',
          };
          let result: GrantResult;
          try {
            result = await grants[grantName]!(config, ctx);
          } catch (error) {
            assertTyped(error, ['TOKEN_ENDPOINT', 'TOKEN_RESPONSE', 'RATE_LIMITED', 'NETWORK']);
            for (const secret of [CLIENT_SECRET, PASSWORD, REFRESH_TOKEN]) {
              assert.ok(!error.message.includes(secret), 'no secret in the message');
              assert.ok(!JSON.stringify(error).includes(secret), 'no secret in the serialised error');
            }
            assert.doesNotMatch(error.message, /\b(NaN|Infinity)\b|\[object /);
            assert.equal(error.connection, 'acme');
            if ('fail' in outcome) {
              if (outcome.fail === 'network' || outcome.fail === 'abort') assert.equal(error.code, 'NETWORK');
            } else {
              assert.ok(
                !isPlainValidTokenReply(outcome),
                `a valid token response was refused: ${error.message}`,
              );
              if (isOAuthErrorReply(outcome)) {
                assert.equal(error.code, outcome.status === 429 ? 'RATE_LIMITED' : 'TOKEN_ENDPOINT');
                assert.equal(error.status, outcome.status);
              }
            }
            return;
          }
          assert.ok(!('fail' in outcome), 'a failing fetch never gives tokens');
          assert.equal(result.requestStartedAt, start);
          const response = result.response as unknown as TokenResponseFields;
          assert.equal(typeof response.access_token, 'string');
          assert.ok(response.access_token.length > 0);
          const options = { requestStartedAt: start, defaultLifetimeSeconds: 3600 };
          checkTokenSet(TokenSet.fromTokenResponse(response, options), response, options);
        },
      ),
      fuzzParams(500),
    );
  });

  it('a 429 with an OAuth error is RATE_LIMITED, whatever its Retry-After says', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.nat().map(String), printable, fc.constantFrom('9'.repeat(400), '1e3', '-1', '')),
        fc.constantFrom('invalid_request', 'slow_down', 'rate_limited'),
        async (retryAfter, oauthError) => {
          const ctx: TokenRequestContext = {
            authServerFetch: bufferedThrough(async () =>
              Response.json({ error: oauthError }, { status: 429, headers: { 'retry-after': retryAfter } }),
            ),
            now: () => start,
            timeoutMs: 5_000,
            connection: 'acme',
            loginHint: 'tokenkeeper login acme',
          };
          const config: ClientConfig = {
            tokenUrl: 'http://127.0.0.1:9/oauth/token',
            clientId: 'fuzz-client',
            clientSecret: CLIENT_SECRET,
            clientAuthMethod: 'client_secret_post',
          };
          await assert.rejects(grants.refresh_token!(config, ctx), (error) => {
            assertTyped(error, ['RATE_LIMITED']);
            assert.equal(error.status, 429);
            assert.equal(error.error, oauthError);
            assert.match(error.message, /try again (in \d+ s|later)\.$/);
            return true;
          });
        },
      ),
      fuzzParams(200),
    );
  });
});
