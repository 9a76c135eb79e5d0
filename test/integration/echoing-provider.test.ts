/**
 * A provider that repeats in its error text whatever secret it was sent: the refresh token,
 * the client secret (in the body, or in Basic credentials), the password, the authorization
 * code and its verifier, a token being revoked. None of it may reach a message, an error's
 * fields, an event or the clear part of a stored connection, in any form it took on the wire.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { inspect } from 'node:util';
import type { TokenkeeperError } from '../../src/errors.js';
import { createKeeper, type Keeper } from '../../src/keeper.js';
import { MemoryTokenStore } from '../../src/store/memory-store.js';

const CANARIES = {
  // A space, a slash, a plus, a colon, a dash and a non-ASCII letter: each is encoded
  // differently in a form body, in Basic credentials and by encodeURIComponent.
  clientSecret: 'cs-canary secret/+:ü',
  refreshToken: 'rt-canary+refresh/token==',
  password: 'pw-canary&=%',
  code: 'code-canary-4f1e',
  codeVerifier: 'verifier-canary-0123456789abcdefghijklmnopqrstuvw',
  accessToken: 'at-canary-access',
};

/** Body fields that carry a secret, as the keeper sends them. */
const SECRET_FIELDS = new Set([
  'client_secret',
  'refresh_token',
  'password',
  'code',
  'code_verifier',
  'token',
]);

type Reply = { status: number; headers?: Record<string, string>; body: unknown };

/**
 * Every secret of one request in the forms it arrived in: each field as written in the body
 * and decoded, the Authorization header whole, its base64 and what that decodes to.
 */
function secretsReceived(rawBody: string, headers: IncomingHttpHeaders): string[] {
  const received: string[] = [];
  for (const pair of rawBody.split('&')) {
    const [field = '', value = ''] = pair.split('=');
    if (SECRET_FIELDS.has(field)) received.push(value, decodeURIComponent(value.replace(/\+/g, ' ')));
  }
  const authorization = headers.authorization;
  if (authorization?.startsWith('Basic ')) {
    const encoded = authorization.slice('Basic '.length);
    const decoded = Buffer.from(encoded, 'base64').toString('utf8');
    const secret = decoded.slice(decoded.indexOf(':') + 1);
    received.push(authorization, encoded, decoded, secret, decodeURIComponent(secret.replace(/\+/g, ' ')));
  }
  return received;
}

describe('a provider that echoes the secrets it was sent', () => {
  let server: Server;
  let base: string;
  /** Answers a request; `echo` is every secret it carried, in every form, in one line. */
  let answer: (path: string, echo: string) => Reply;
  /** Everything the server repeated: none of it may come out of the keeper. */
  const echoed = new Set<string>();
  let store: MemoryTokenStore;
  let keeper: Keeper;
  let outputs: string[];

  before(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => {
        body += chunk;
      });
      req.on('end', () => {
        const received = secretsReceived(body, req.headers);
        for (const form of received) if (form.length >= 4) echoed.add(form);
        const reply = answer(req.url ?? '/', `we got ${received.join(' and ')}, which we refuse`);
        res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
        res.end(JSON.stringify(reply.body));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  beforeEach(async () => {
    await keeper?.close();
    echoed.clear();
    store = new MemoryTokenStore();
    keeper = createKeeper({ store, env: {}, proactiveRefresh: false, requestTimeoutMs: 5_000 });
    outputs = [];
    for (const event of ['token', 'refresh', 'refresh_failed', 'reauth_required'] as const) {
      keeper.on(event, (payload) => outputs.push(JSON.stringify(payload), inspect(payload)));
    }
  });
  after(() => keeper?.close());

  const tokens = (): Reply => ({
    status: 200,
    body: {
      access_token: CANARIES.accessToken,
      token_type: 'Bearer',
      expires_in: 3600,
      refresh_token: CANARIES.refreshToken,
    },
  });

  function oauth2Spec(clientAuthMethod: 'client_secret_post' | 'client_secret_basic') {
    return {
      provider: 'oauth2',
      grant: 'client_credentials' as const,
      tokenUrl: `${base}/token`,
      revocationUrl: `${base}/revoke`,
      apiBaseUrl: base,
      clientId: 'client-id',
      clientSecret: CANARIES.clientSecret,
      clientAuthMethod,
    };
  }

  /** The error, every event so far and the stored rows' clear part carry no secret; the provider's words still show. */
  async function assertClean(error: TokenkeeperError, words = /which we refuse/): Promise<void> {
    const texts = [
      error.message,
      error.error ?? '',
      error.error_description ?? '',
      JSON.stringify(error),
      inspect(error, { depth: null }),
      ...outputs,
    ];
    for (const row of await store.list()) texts.push(JSON.stringify(row.meta));
    assert.ok(echoed.size > 0, 'sanity: the provider was sent secrets and repeated them');
    const leaks = [...echoed, ...Object.values(CANARIES)];
    for (const text of texts) {
      for (const secret of leaks) {
        assert.equal(text.includes(secret), false, `${JSON.stringify(secret)} appears in ${text}`);
      }
    }
    const shown = `${error.message} ${error.error ?? ''} ${error.error_description ?? ''}`;
    assert.match(shown, words);
    assert.match(shown, /\[redacted\]/);
  }

  async function rejection(work: Promise<unknown>): Promise<TokenkeeperError> {
    let caught: unknown;
    await assert.rejects(work, (error) => {
      caught = error;
      return true;
    });
    return caught as TokenkeeperError;
  }

  it('a refused refresh: the refresh token and client secret (in the body) stay out of the error and events', async () => {
    answer = tokens;
    await keeper.connect('svc', oauth2Spec('client_secret_post'));
    answer = (_path, echo) => ({ status: 400, body: { error: 'invalid_request', error_description: echo } });
    const error = await rejection(keeper.refresh('svc'));
    assert.equal(error.code, 'TOKEN_ENDPOINT');
    assert.equal(error.error, 'invalid_request');
    assert.ok(
      outputs.some((text) => text.includes('TOKEN_ENDPOINT')),
      'sanity: refresh_failed was emitted',
    );
    await assertClean(error);
  });

  it('a rate-limited refresh: the shared back-off written to the store is clean too', async () => {
    answer = tokens;
    await keeper.connect('svc', oauth2Spec('client_secret_post'));
    answer = (_path, echo) => ({ status: 429, body: { error: echo } });
    const error = await rejection(keeper.refresh('svc'));
    assert.equal(error.code, 'RATE_LIMITED');
    const row = await store.get('svc');
    assert.match(
      JSON.stringify(row?.meta),
      /backoff/,
      'sanity: the failure was recorded in the clear metadata',
    );
    await assertClean(error);
  });

  it('client_secret_basic: the secret as form-encoded in the credentials, and the header itself, at connect', async () => {
    answer = (_path, echo) => ({
      status: 401,
      headers: { 'www-authenticate': `Basic error="invalid_client", error_description="${echo}"` },
      body: { error: 'invalid_client' },
    });
    const error = await rejection(keeper.connect('svc', oauth2Spec('client_secret_basic')));
    assert.equal(error.error, 'invalid_client');
    assert.ok(
      [...echoed].some((form) => form.includes('%2D') || form.includes('%2F')),
      'sanity: the secret went out form-encoded',
    );
    await assertClean(error);
  });

  it('client_secret_basic: a refused refresh', async () => {
    answer = tokens;
    await keeper.connect('svc', oauth2Spec('client_secret_basic'));
    answer = (_path, echo) => ({ status: 400, body: { error: 'invalid_request', error_description: echo } });
    const error = await rejection(keeper.refresh('svc'));
    assert.equal(error.code, 'TOKEN_ENDPOINT');
    await assertClean(error);
  });

  it('invalid_scope at connect', async () => {
    answer = (_path, echo) => ({ status: 400, body: { error: 'invalid_scope', error_description: echo } });
    const error = await rejection(
      keeper.connect('svc', { ...oauth2Spec('client_secret_post'), scope: 'all' }),
    );
    assert.equal(error.error, 'invalid_scope');
    await assertClean(error);
  });

  it('the password of a password grant, echoed as the error code too', async () => {
    answer = (_path, echo) => ({
      status: 400,
      body: { error: CANARIES.password, error_description: echo },
    });
    const error = await rejection(
      keeper.connect('acme', {
        provider: 'factus',
        baseUrl: base,
        clientId: 'client-id',
        clientSecret: CANARIES.clientSecret,
        username: 'user@example.com',
        password: CANARIES.password,
      }),
    );
    assert.equal(error.code, 'TOKEN_ENDPOINT');
    assert.match(error.error ?? '', /\[redacted\]/);
    await assertClean(error);
  });

  it('the authorization code and its PKCE verifier', async () => {
    answer = (_path, echo) => ({ status: 400, body: { error: 'invalid_grant', error_description: echo } });
    const error = await rejection(
      keeper.connect('web', {
        ...oauth2Spec('client_secret_post'),
        grant: 'authorization_code',
        authorizationCode: {
          code: CANARIES.code,
          redirectUri: 'http://127.0.0.1:8765/callback',
          codeVerifier: CANARIES.codeVerifier,
        },
      }),
    );
    assert.equal(error.error, 'invalid_grant');
    await assertClean(error);
  });

  it('a token being revoked at logout', async () => {
    answer = tokens;
    await keeper.connect('svc', oauth2Spec('client_secret_post'));
    answer = (path, echo) =>
      path.startsWith('/revoke')
        ? { status: 400, body: { error: 'invalid_request', error_description: echo } }
        : tokens();
    const error = await rejection(keeper.logout('svc'));
    assert.equal(error.code, 'TOKEN_ENDPOINT');
    await assertClean(error);
  });

  it('a registered error code is understood even when a short secret is part of it', async () => {
    answer = tokens;
    await keeper.connect('svc', { ...oauth2Spec('client_secret_post'), clientSecret: 'client' });
    answer = () => ({ status: 401, body: { error: 'invalid_client' } });
    const error = await rejection(keeper.refresh('svc'));
    assert.equal(error.code, 'REAUTH_REQUIRED', 'a refused client is told apart from a passing failure');
    assert.match(error.message, /invalid_client/);
  });

  it('a rate limit at connect whose error code repeats the secret', async () => {
    answer = (_path, echo) => ({ status: 429, body: { error: echo } });
    const error = await rejection(keeper.connect('svc', oauth2Spec('client_secret_post')));
    assert.equal(error.code, 'RATE_LIMITED');
    await assertClean(error);
  });
});
