/**
 * Self-test of the oidc-provider fixture (test/helpers/oidc-server.ts), with raw fetch only:
 * proves the server behaves as the conformance tests will assume.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type OidcServer, type OidcServerStats, startOidcServer } from '../helpers/oidc-server.js';

interface Discovery {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  revocation_endpoint: string;
  introspection_endpoint: string;
  userinfo_endpoint: string;
  code_challenge_methods_supported: string[];
  token_endpoint_auth_methods_supported: string[];
  grant_types_supported: string[];
  response_types_supported: string[];
}

interface TokenResponse {
  access_token?: string;
  refresh_token?: string;
  id_token?: string;
  token_type?: string;
  expires_in?: number;
  scope?: string;
  error?: string;
  error_description?: string;
}

type Credentials = { clientId: string; clientSecret?: string };
type AuthStyle = 'basic' | 'post' | 'none';

function pkcePair() {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

async function postForm(
  url: string,
  params: Record<string, string>,
  client: Credentials,
  style: AuthStyle,
): Promise<{ status: number; body: TokenResponse }> {
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    accept: 'application/json',
  };
  const form = new URLSearchParams(params);
  if (style === 'basic') {
    const user = encodeURIComponent(client.clientId);
    const pass = encodeURIComponent(client.clientSecret ?? '');
    headers.authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
  } else {
    form.set('client_id', client.clientId);
    if (style === 'post') form.set('client_secret', client.clientSecret ?? '');
  }
  const response = await fetch(url, { method: 'POST', headers, body: form });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as TokenResponse) : {} };
}

describe('oidc-provider fixture', () => {
  let server: OidcServer;
  let discovery: Discovery;
  const accessTokenTtlSeconds = 30;

  function authorizationUrl(
    client: { clientId: string; redirectUri: string },
    extra: Record<string, string> = {},
  ): string {
    const url = new URL(discovery.authorization_endpoint);
    url.search = new URLSearchParams({
      client_id: client.clientId,
      response_type: 'code',
      redirect_uri: client.redirectUri,
      scope: 'openid api',
      state: randomBytes(8).toString('hex'),
      ...extra,
    }).toString();
    return url.href;
  }

  /** authorize() with PKCE, then the code exchange. */
  async function codeFlow(
    client: { clientId: string; clientSecret?: string; redirectUri: string },
    style: AuthStyle,
  ): Promise<TokenResponse> {
    const { verifier, challenge } = pkcePair();
    const state = randomBytes(8).toString('hex');
    const callback = await server.authorize(
      authorizationUrl(client, { state, code_challenge: challenge, code_challenge_method: 'S256' }),
    );
    assert.equal(callback.searchParams.get('error'), null, callback.href);
    assert.equal(callback.searchParams.get('state'), state);
    const code = callback.searchParams.get('code');
    assert.ok(code);
    const { status, body } = await postForm(
      discovery.token_endpoint,
      { grant_type: 'authorization_code', code, redirect_uri: client.redirectUri, code_verifier: verifier },
      client,
      style,
    );
    assert.equal(status, 200, JSON.stringify(body));
    return body;
  }

  function delta(before: OidcServerStats, now: OidcServerStats) {
    const diff = (a: Record<string, number>, b: Record<string, number>) =>
      Object.fromEntries(
        Object.entries(b)
          .map(([k, v]) => [k, v - (a[k] ?? 0)] as const)
          .filter(([, v]) => v !== 0),
      );
    return {
      grants: diff(before.grants, now.grants),
      rotations: now.rotations - before.rotations,
      revocations: now.revocations - before.revocations,
      invalidGrant: now.invalidGrant - before.invalidGrant,
      errors: diff(before.errors, now.errors),
    };
  }

  before(async () => {
    server = await startOidcServer({ accessTokenTtlSeconds });
    const response = await fetch(`${server.issuer}/.well-known/openid-configuration`);
    assert.equal(response.status, 200);
    discovery = (await response.json()) as Discovery;
  });
  after(() => server.stop());

  it('listens on loopback and publishes a discovery document with every endpoint', async () => {
    assert.match(server.issuer, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(discovery.issuer, server.issuer);
    for (const endpoint of [
      'authorization_endpoint',
      'token_endpoint',
      'revocation_endpoint',
      'introspection_endpoint',
    ] as const) {
      assert.ok(discovery[endpoint].startsWith(`${server.issuer}/`), endpoint);
    }
    assert.deepEqual(discovery.code_challenge_methods_supported, ['S256']);
    assert.ok(discovery.token_endpoint_auth_methods_supported.includes('client_secret_basic'));
    assert.ok(discovery.token_endpoint_auth_methods_supported.includes('client_secret_post'));
    for (const grant of ['authorization_code', 'refresh_token', 'client_credentials']) {
      assert.ok(discovery.grant_types_supported.includes(grant), grant);
    }
    assert.deepEqual(discovery.response_types_supported, ['code']);

    // RFC 8414 metadata is served too, with the same endpoints.
    const oauth = await fetch(`${server.issuer}/.well-known/oauth-authorization-server`);
    assert.equal(oauth.status, 200);
    const metadata = (await oauth.json()) as Discovery;
    assert.equal(metadata.token_endpoint, discovery.token_endpoint);
  });

  it('runs the authorization code flow with PKCE for a client_secret_basic client', async () => {
    const before = server.stats();
    const tokens = await codeFlow(server.clients.confidential, 'basic');
    assert.equal(tokens.token_type, 'Bearer');
    assert.equal(tokens.expires_in, accessTokenTtlSeconds);
    assert.ok(tokens.access_token && tokens.refresh_token && tokens.id_token);
    assert.equal(tokens.scope, 'openid api');
    assert.equal(await server.isActive(tokens.access_token, 'access'), true);
    assert.equal(await server.isActive(tokens.refresh_token, 'refresh'), true);
    assert.equal(await server.isActive('not-a-token', 'access'), false);

    const userinfo = await fetch(discovery.userinfo_endpoint, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    assert.equal(userinfo.status, 200);
    assert.deepEqual(await userinfo.json(), { sub: server.account.accountId });

    const introspection = await postForm(
      discovery.introspection_endpoint,
      { token: tokens.access_token },
      server.clients.confidential,
      'basic',
    );
    assert.equal(introspection.status, 200);
    assert.equal((introspection.body as { active?: boolean }).active, true);

    assert.deepEqual(delta(before, server.stats()), {
      grants: { authorization_code: 1 },
      rotations: 0,
      revocations: 0,
      invalidGrant: 0,
      errors: {},
    });
  });

  it('holds each client to its registered authentication method (client_secret_post)', async () => {
    const tokens = await codeFlow(server.clients.basic, 'post');
    assert.ok(tokens.access_token && tokens.refresh_token);

    const wrongMethod = await postForm(
      discovery.token_endpoint,
      { grant_type: 'refresh_token', refresh_token: tokens.refresh_token },
      server.clients.basic,
      'basic',
    );
    assert.equal(wrongMethod.status, 401);
    assert.equal(wrongMethod.body.error, 'invalid_client');

    const wrongSecret = await postForm(
      discovery.token_endpoint,
      { grant_type: 'refresh_token', refresh_token: tokens.refresh_token },
      { clientId: server.clients.basic.clientId, clientSecret: 'wrong' },
      'post',
    );
    assert.equal(wrongSecret.body.error, 'invalid_client');

    const confidential = await codeFlow(server.clients.confidential, 'basic');
    const postForBasic = await postForm(
      discovery.token_endpoint,
      { grant_type: 'refresh_token', refresh_token: confidential.refresh_token! },
      server.clients.confidential,
      'post',
    );
    assert.equal(postForBasic.status, 401);
    assert.equal(postForBasic.body.error, 'invalid_client');

    // Failed client authentication leaves the refresh token usable.
    const right = await postForm(
      discovery.token_endpoint,
      { grant_type: 'refresh_token', refresh_token: tokens.refresh_token },
      server.clients.basic,
      'post',
    );
    assert.equal(right.status, 200, JSON.stringify(right.body));
  });

  it('serves a public client on any loopback port (PKCE, no secret)', async () => {
    const client = { ...server.clients.public, redirectUri: 'http://127.0.0.1:54321/callback' };
    const tokens = await codeFlow(client, 'none');
    assert.ok(tokens.access_token && tokens.refresh_token);
  });

  it('requires PKCE: no code_challenge, no code', async () => {
    const callback = await server.authorize(authorizationUrl(server.clients.confidential));
    assert.equal(`${callback.origin}${callback.pathname}`, server.clients.confidential.redirectUri);
    assert.equal(callback.searchParams.get('error'), 'invalid_request');
    assert.match(callback.searchParams.get('error_description') ?? '', /PKCE/);
    assert.equal(callback.searchParams.get('code'), null);
  });

  it('requires the code_verifier at the token endpoint', async () => {
    const before = server.stats();
    const client = server.clients.confidential;
    const { challenge } = pkcePair();
    const callback = await server.authorize(
      authorizationUrl(client, { code_challenge: challenge, code_challenge_method: 'S256' }),
    );
    const code = callback.searchParams.get('code')!;
    const missing = await postForm(
      discovery.token_endpoint,
      { grant_type: 'authorization_code', code, redirect_uri: client.redirectUri },
      client,
      'basic',
    );
    assert.equal(missing.status, 400);
    assert.equal(missing.body.error, 'invalid_grant');
    const wrong = await postForm(
      discovery.token_endpoint,
      {
        grant_type: 'authorization_code',
        code,
        redirect_uri: client.redirectUri,
        code_verifier: 'x'.repeat(43),
      },
      client,
      'basic',
    );
    assert.equal(wrong.body.error, 'invalid_grant');
    assert.deepEqual(delta(before, server.stats()), {
      grants: {},
      rotations: 0,
      revocations: 0,
      invalidGrant: 2,
      errors: { invalid_grant: 2 },
    });
  });

  it('rotates refresh tokens; reusing a consumed one is invalid_grant and revokes the grant', async () => {
    const client = server.clients.confidential;
    const first = await codeFlow(client, 'basic');
    const before = server.stats();

    const refreshed = await postForm(
      discovery.token_endpoint,
      { grant_type: 'refresh_token', refresh_token: first.refresh_token! },
      client,
      'basic',
    );
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    const second = refreshed.body;
    assert.ok(second.access_token && second.refresh_token);
    assert.notEqual(second.refresh_token, first.refresh_token);
    assert.notEqual(second.access_token, first.access_token);
    assert.equal(second.expires_in, accessTokenTtlSeconds);
    assert.equal(await server.isActive(first.refresh_token!, 'refresh'), false, 'consumed by the rotation');
    assert.equal(await server.isActive(second.refresh_token, 'refresh'), true);
    assert.equal(await server.isActive(second.access_token, 'access'), true);

    const reuse = await postForm(
      discovery.token_endpoint,
      { grant_type: 'refresh_token', refresh_token: first.refresh_token! },
      client,
      'basic',
    );
    assert.equal(reuse.status, 400);
    assert.equal(reuse.body.error, 'invalid_grant');
    // oidc-provider treats reuse as theft: the whole grant is gone, the new tokens with it.
    assert.equal(await server.isActive(second.refresh_token, 'refresh'), false);
    assert.equal(await server.isActive(second.access_token, 'access'), false);

    assert.deepEqual(delta(before, server.stats()), {
      grants: { refresh_token: 1 },
      rotations: 1,
      revocations: 0,
      invalidGrant: 1,
      errors: { invalid_grant: 1 },
    });
  });

  it('issues access tokens to the machine client with client_credentials, and to it only', async () => {
    const before = server.stats();
    const { status, body } = await postForm(
      discovery.token_endpoint,
      { grant_type: 'client_credentials', scope: 'api' },
      server.clients.machine,
      'basic',
    );
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.expires_in, accessTokenTtlSeconds);
    assert.equal(body.refresh_token, undefined);
    assert.ok(body.access_token);
    assert.equal(await server.isActive(body.access_token, 'access'), true);

    const notAllowed = await postForm(
      discovery.token_endpoint,
      { grant_type: 'client_credentials' },
      server.clients.confidential,
      'basic',
    );
    // RFC 6749 §5.2 says unauthorized_client; oidc-provider answers invalid_request.
    assert.equal(notAllowed.status, 400);
    assert.equal(notAllowed.body.error, 'invalid_request');

    assert.deepEqual(delta(before, server.stats()), {
      grants: { client_credentials: 1 },
      rotations: 0,
      revocations: 0,
      invalidGrant: 0,
      errors: { invalid_request: 1 },
    });
  });

  it('revokes a refresh token (RFC 7009), and the grant with it', async () => {
    const client = server.clients.confidential;
    const tokens = await codeFlow(client, 'basic');
    const before = server.stats();

    const response = await fetch(discovery.revocation_endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64')}`,
      },
      body: new URLSearchParams({ token: tokens.refresh_token!, token_type_hint: 'refresh_token' }),
    });
    assert.equal(response.status, 200);
    await response.arrayBuffer();
    assert.equal(await server.isActive(tokens.refresh_token!, 'refresh'), false);
    assert.equal(await server.isActive(tokens.access_token!, 'access'), false);

    const refresh = await postForm(
      discovery.token_endpoint,
      { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! },
      client,
      'basic',
    );
    assert.equal(refresh.body.error, 'invalid_grant');

    const machineToken = await postForm(
      discovery.token_endpoint,
      { grant_type: 'client_credentials' },
      server.clients.machine,
      'basic',
    );
    const revokeAccess = await postForm(
      discovery.revocation_endpoint,
      { token: machineToken.body.access_token!, token_type_hint: 'access_token' },
      server.clients.machine,
      'basic',
    );
    assert.equal(revokeAccess.status, 200);
    assert.equal(await server.isActive(machineToken.body.access_token!, 'access'), false);

    assert.deepEqual(delta(before, server.stats()), {
      grants: { client_credentials: 1 },
      rotations: 0,
      revocations: 2,
      invalidGrant: 1,
      errors: { invalid_grant: 1 },
    });
  });

  it('redirects with access_denied when the user refuses', async () => {
    const state = 'deny-state';
    const { challenge } = pkcePair();
    const callback = await server.authorize(
      authorizationUrl(server.clients.confidential, {
        state,
        code_challenge: challenge,
        code_challenge_method: 'S256',
      }),
      { deny: true },
    );
    assert.equal(`${callback.origin}${callback.pathname}`, server.clients.confidential.redirectUri);
    assert.equal(callback.searchParams.get('error'), 'access_denied');
    assert.equal(callback.searchParams.get('state'), state);
    assert.equal(callback.searchParams.get('iss'), server.issuer);
    assert.equal(callback.searchParams.get('code'), null);
  });

  it('rejects, with the error page text, what cannot be redirected back', async () => {
    const { challenge } = pkcePair();
    await assert.rejects(
      server.authorize(
        authorizationUrl(
          { ...server.clients.confidential, redirectUri: 'http://127.0.0.1:8765/elsewhere' },
          { code_challenge: challenge, code_challenge_method: 'S256' },
        ),
      ),
      /redirect_uri/,
    );
  });

  it('counts everything it saw', () => {
    assert.deepEqual(server.stats(), {
      grants: { authorization_code: 6, refresh_token: 2, client_credentials: 2 },
      rotations: 2,
      revocations: 2,
      invalidGrant: 4,
      errors: { invalid_client: 3, invalid_grant: 4, invalid_request: 1 },
    });
  });
});

describe('oidc-provider fixture lifecycle', () => {
  it('honours the options and closes every connection on stop()', async () => {
    const redirectUri = 'http://127.0.0.1:40123/cb';
    const server = await startOidcServer({ accessTokenTtlSeconds: 5, redirectUri });
    assert.equal(server.clients.confidential.redirectUri, redirectUri);
    const token = await fetch(`${server.issuer}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${server.clients.machine.clientId}:${server.clients.machine.clientSecret}`).toString('base64')}`,
      },
      body: 'grant_type=client_credentials',
    });
    assert.equal(((await token.json()) as TokenResponse).expires_in, 5);
    // A keep-alive connection is open now; stop() must not wait for it.
    await server.stop();
    await server.stop();
    await assert.rejects(fetch(`${server.issuer}/.well-known/openid-configuration`));
  });

  it('can be as lenient as oidc-provider itself about basic vs post', async () => {
    const server = await startOidcServer({ strictClientAuthMethod: false });
    try {
      const { clientId, clientSecret } = server.clients.confidential;
      const response = await fetch(`${server.issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: 'unknown',
          client_id: clientId,
          client_secret: clientSecret,
        }),
      });
      // Authenticated (with post, though registered for basic); then the unknown token is rejected.
      assert.equal(((await response.json()) as TokenResponse).error, 'invalid_grant');
    } finally {
      await server.stop();
    }
  });
});
