import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ConnectionRecord } from '../../src/connection.js';
import { withSavedSpec } from '../../src/connection-spec.js';
import { factusProfile } from '../../src/providers/factus.js';
import { genericOAuth2Profile } from '../../src/providers/oauth2.js';

const saved: ConnectionRecord = {
  name: 'acme',
  provider: 'factus',
  baseUrl: 'http://127.0.0.1:8787',
  tokenUrl: 'http://127.0.0.1:8787/oauth/token',
  grant: 'password',
  clientId: 'client-1',
  clientAuthMethod: 'client_secret_post',
  state: 'reauth_required',
  createdAt: 0,
  secrets: { clientSecret: 'secret-1', username: 'ana@example.com', password: 'old-password' },
};

describe('a new login of a saved connection (withSavedSpec)', () => {
  it('takes endpoints, client and user from the saved connection; the new password wins', () => {
    const spec = withSavedSpec({ provider: 'factus', password: 'new-password' }, saved, factusProfile);
    assert.equal(spec.baseUrl, saved.baseUrl);
    assert.equal(spec.clientId, 'client-1');
    assert.equal(spec.clientSecret, 'secret-1');
    assert.equal(spec.username, 'ana@example.com');
    assert.equal(spec.password, 'new-password');
  });

  it('without a new password it tries the saved one', () => {
    assert.equal(withSavedSpec({ provider: 'factus' }, saved, factusProfile).password, 'old-password');
  });

  it('a saved secret goes only with what it belongs to: the client secret with its client, the password with its user', () => {
    const otherClient = withSavedSpec({ provider: 'factus', clientId: 'client-2' }, saved, factusProfile);
    assert.equal(otherClient.clientSecret, undefined);
    const otherUser = withSavedSpec(
      { provider: 'factus', username: 'luis@example.com' },
      saved,
      factusProfile,
    );
    assert.equal(otherUser.password, undefined);
  });

  it('endpoints given anew replace the saved ones', () => {
    const spec = withSavedSpec({ provider: 'factus', environment: 'production' }, saved, factusProfile);
    assert.equal(spec.environment, 'production');
    assert.equal(spec.baseUrl, undefined);
  });

  it('a connection of another provider or grant lends nothing', () => {
    const spec = { provider: 'oauth2', issuer: 'https://auth.example.com' };
    assert.deepEqual(withSavedSpec(spec, saved, genericOAuth2Profile), spec);
  });

  it('a discovered connection is discovered again from its issuer', () => {
    const discovered: ConnectionRecord = {
      ...saved,
      provider: 'oauth2',
      grant: 'authorization_code',
      issuer: 'https://auth.example.com',
      baseUrl: 'https://api.example.com',
    };
    const spec = withSavedSpec(
      { provider: 'oauth2', grant: 'authorization_code' },
      discovered,
      genericOAuth2Profile,
    );
    assert.equal(spec.issuer, 'https://auth.example.com');
    assert.equal(spec.apiBaseUrl, 'https://api.example.com');
    assert.equal(spec.tokenUrl, undefined);
  });
});
