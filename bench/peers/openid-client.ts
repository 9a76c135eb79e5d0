/**
 * openid-client (v6) as its documentation shows it: a Configuration, the grants
 * as functions, `fetchProtectedResource` for API calls. The library keeps no
 * token state, so this wiring does what its examples do: keep the last token
 * response and run the refresh-token grant when it has expired.
 */
import * as client from 'openid-client';
import { type Peer, type PeerOptions, tokenUrlOf } from './types.js';

export function createOpenidClientPeer(options: PeerOptions): Peer {
  const { clientId, clientSecret, username, password } = options.credentials;
  const config = new client.Configuration(
    { issuer: new URL(options.baseUrl).origin, token_endpoint: tokenUrlOf(options.baseUrl) },
    clientId,
    clientSecret,
  );
  // The loopback servers speak plain http.
  client.allowInsecureRequests(config);

  let tokens: client.TokenEndpointResponse | undefined;
  let expiresAt = 0;
  const keep = (response: client.TokenEndpointResponse) => {
    tokens = response;
    expiresAt = Date.now() + (response.expires_in ?? 0) * 1000;
  };

  const getToken = async (): Promise<string> => {
    if (!tokens) throw new Error('not logged in');
    if (Date.now() >= expiresAt && tokens.refresh_token) {
      keep(await client.refreshTokenGrant(config, tokens.refresh_token));
    }
    return tokens.access_token;
  };

  return {
    async login() {
      keep(await client.genericGrantRequest(config, 'password', { username, password }));
    },
    getToken,
    async fetch(path) {
      const response = await client.fetchProtectedResource(
        config,
        await getToken(),
        new URL(path, options.baseUrl),
        'GET',
      );
      await response.arrayBuffer();
      return response.status;
    },
    close: async () => undefined,
  };
}
