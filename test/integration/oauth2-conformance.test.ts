/**
 * The generic OAuth 2.0 provider against an independent, real authorization
 * server: oidc-provider on loopback, with PKCE required and rotating refresh tokens.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TokenkeeperError } from '../../src/errors.js';
import {
  createAuthorizationRequest,
  readAuthorizationResponse,
} from '../../src/grants/authorization-code.js';
import { bufferedRequest } from '../../src/http/buffered-request.js';
import { createKeeper, type Keeper } from '../../src/keeper.js';
import { resolveConnectionEndpoints } from '../../src/providers/connection-endpoints.js';
import { genericOAuth2Profile } from '../../src/providers/oauth2.js';
import { MemoryTokenStore } from '../../src/store/memory-store.js';
import { type OidcServer, startOidcServer } from '../helpers/oidc-server.js';

const SCOPE = 'openid offline_access api';

describe('generic OAuth 2.0 against oidc-provider', () => {
  let server: OidcServer;
  let keeper: Keeper;
  before(async () => {
    server = await startOidcServer();
    keeper = createKeeper({ store: new MemoryTokenStore(), proactiveRefresh: false, env: {} });
  });
  after(async () => {
    await keeper.close();
    await server.stop();
  });

  /** Plays the whole browser round trip and returns what connect() needs. */
  async function authorizeWith(clientId: string, redirectUri: string) {
    const endpoints = await resolveConnectionEndpoints(
      genericOAuth2Profile,
      { issuer: server.issuer },
      { authServerFetch: bufferedRequest, timeoutMs: 5000 },
    );
    const request = await createAuthorizationRequest({
      authorizationUrl: endpoints.authorizationUrl!,
      clientId,
      redirectUri,
      scope: SCOPE,
      pkce: endpoints.pkce,
    });
    const callback = await server.authorize(request.url.href);
    const code = readAuthorizationResponse(request, callback, { issuer: endpoints.issuer! });
    return { code, redirectUri, ...(request.codeVerifier ? { codeVerifier: request.codeVerifier } : {}) };
  }

  it('discovers the endpoints, PKCE support and client authentication', async () => {
    const endpoints = await resolveConnectionEndpoints(
      genericOAuth2Profile,
      { issuer: server.issuer },
      { authServerFetch: bufferedRequest, timeoutMs: 5000 },
    );
    assert.equal(endpoints.issuer, server.issuer);
    assert.match(endpoints.tokenUrl, /^http:\/\/127\.0\.0\.1:\d+\//);
    assert.ok(endpoints.authorizationUrl);
    assert.ok(endpoints.revocationUrl);
    assert.equal(endpoints.pkce, true);
    assert.equal(endpoints.clientAuthMethod, 'client_secret_basic');
    assert.equal(endpoints.baseUrl, server.issuer);
  });

  it('authorization code with PKCE and client_secret_basic, then refresh with rotation', async () => {
    const { clientId, clientSecret, redirectUri } = server.clients.confidential;
    const authorizationCode = await authorizeWith(clientId, redirectUri);
    assert.ok(authorizationCode.codeVerifier, 'PKCE was used');
    const info = await keeper.connect('oidc', {
      provider: 'oauth2',
      issuer: server.issuer,
      grant: 'authorization_code',
      clientId,
      clientSecret,
      scope: SCOPE,
      authorizationCode,
    });
    assert.equal(info.hasRefreshToken, true);
    assert.equal(info.issuer, server.issuer);
    const first = await keeper.getAccessToken('oidc');
    assert.equal(await server.isActive(first, 'access'), true);

    await keeper.refresh('oidc');
    const second = await keeper.getAccessToken('oidc');
    assert.notEqual(second, first);
    await keeper.refresh('oidc');
    const stats = server.stats();
    assert.equal(stats.grants.authorization_code, 1);
    assert.equal(stats.grants.refresh_token, 2);
    assert.equal(stats.rotations, 2, 'each refresh consumed the previous refresh token');
    assert.equal(stats.invalidGrant, 0, 'a rotated refresh token was never reused');
  });

  it('whoami reads the userinfo endpoint', async () => {
    const identity = await keeper.whoami('oidc');
    assert.equal((identity.body as { sub: string }).sub, server.account.accountId);
  });

  it('logout revokes at the provider (RFC 7009), then forgets the connection', async () => {
    const token = await keeper.getAccessToken('oidc');
    const before = server.stats().revocations;
    const result = await keeper.logout('oidc');
    assert.equal(result.revoked, true);
    assert.equal(server.stats().revocations, before + 2, 'refresh token, then access token');
    assert.equal(await server.isActive(token, 'access'), false);
    await assert.rejects(keeper.info('oidc'), (error: TokenkeeperError) => error.code === 'NOT_FOUND');
  });

  it('client_secret_post when the client is registered for it', async () => {
    const { clientId, clientSecret, redirectUri } = server.clients.basic;
    const authorizationCode = await authorizeWith(clientId, redirectUri);
    const spec = {
      provider: 'oauth2',
      issuer: server.issuer,
      grant: 'authorization_code' as const,
      clientId,
      clientSecret,
      scope: SCOPE,
    };
    // Discovery's default (basic) is refused by this strict server: the error says what to fix.
    await assert.rejects(
      keeper.connect('post', { ...spec, authorizationCode }),
      (error: TokenkeeperError) => {
        assert.equal(error.error, 'invalid_client');
        assert.match(error.message, /Check the client id and client secret/);
        return true;
      },
    );
    const again = await authorizeWith(clientId, redirectUri);
    await keeper.connect('post', {
      ...spec,
      clientAuthMethod: 'client_secret_post',
      authorizationCode: again,
    });
    await keeper.refresh('post');
    assert.ok(await keeper.getAccessToken('post'));
  });

  it('a public client with PKCE alone', async () => {
    const { clientId, redirectUri } = server.clients.public;
    const authorizationCode = await authorizeWith(clientId, redirectUri);
    const info = await keeper.connect('public', {
      provider: 'oauth2',
      issuer: server.issuer,
      grant: 'authorization_code',
      clientId,
      scope: SCOPE,
      authorizationCode,
    });
    assert.equal(info.hasRefreshToken, true);
    await keeper.refresh('public');
  });

  it('client credentials, renewed with the same grant when the token runs out', async () => {
    const { clientId, clientSecret } = server.clients.machine;
    const before = server.stats().grants.client_credentials ?? 0;
    const info = await keeper.connect('machine', {
      provider: 'oauth2',
      issuer: server.issuer,
      grant: 'client_credentials',
      clientId,
      clientSecret,
    });
    assert.equal(info.hasRefreshToken, false);
    const first = await keeper.getAccessToken('machine');
    await keeper.refresh('machine');
    assert.notEqual(await keeper.getAccessToken('machine'), first);
    assert.equal(server.stats().grants.client_credentials, before + 2);
  });

  it('explicit endpoints without discovery', async () => {
    const { clientId, clientSecret } = server.clients.machine;
    const discovered = (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as {
      token_endpoint: string;
    };
    const info = await keeper.connect('explicit', {
      provider: 'oauth2',
      tokenUrl: discovered.token_endpoint,
      apiBaseUrl: 'http://127.0.0.1:9/api',
      grant: 'client_credentials',
      clientId,
      clientSecret,
    });
    assert.equal(info.baseUrl, 'http://127.0.0.1:9/api');
  });

  it('a state from another login is refused before any code is exchanged', async () => {
    const { clientId, redirectUri } = server.clients.confidential;
    const endpoints = await resolveConnectionEndpoints(
      genericOAuth2Profile,
      { issuer: server.issuer },
      { authServerFetch: bufferedRequest, timeoutMs: 5000 },
    );
    const request = await createAuthorizationRequest({
      authorizationUrl: endpoints.authorizationUrl!,
      clientId,
      redirectUri,
      scope: SCOPE,
      pkce: true,
    });
    const callback = await server.authorize(request.url.href);
    callback.searchParams.set('state', 'attacker-state');
    assert.throws(
      () => readAuthorizationResponse(request, callback, { issuer: server.issuer }),
      /possibly forged/,
    );
  });

  it('denied consent is reported in plain words', async () => {
    const { clientId, redirectUri } = server.clients.confidential;
    const request = await createAuthorizationRequest({
      authorizationUrl: `${server.issuer}/auth`,
      clientId,
      redirectUri,
      scope: SCOPE,
      pkce: true,
    });
    const callback = await server.authorize(request.url.href, { deny: true });
    assert.throws(
      () => readAuthorizationResponse(request, callback, { issuer: server.issuer }),
      /access_denied.*declined in the browser/,
    );
  });
});
