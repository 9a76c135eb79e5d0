/**
 * simple-oauth2 as its README shows it: a ResourceOwnerPassword client, an
 * AccessToken, and `if (accessToken.expired()) accessToken = await accessToken.refresh()`
 * before use. It only manages tokens, so API calls go through Node's fetch.
 */
import { type AccessToken, ResourceOwnerPassword } from 'simple-oauth2';
import { type Peer, type PeerOptions, TOKEN_PATH } from './types.js';

export function createSimpleOauth2Peer(options: PeerOptions): Peer {
  const { clientId, clientSecret, username, password } = options.credentials;
  const oauth = new ResourceOwnerPassword({
    client: { id: clientId, secret: clientSecret },
    auth: { tokenHost: options.baseUrl, tokenPath: TOKEN_PATH },
    // Factus (Passport) takes the client credentials in the form body.
    options: { authorizationMethod: 'body' },
  });
  let accessToken: AccessToken | undefined;

  const getToken = async (): Promise<string> => {
    if (!accessToken) throw new Error('not logged in');
    if (accessToken.expired()) accessToken = await accessToken.refresh();
    return accessToken.token.access_token as string;
  };

  return {
    async login() {
      accessToken = await oauth.getToken({ username, password });
    },
    getToken,
    async fetch(path) {
      const response = await fetch(`${options.baseUrl}${path}`, {
        headers: { authorization: `Bearer ${await getToken()}` },
      });
      await response.arrayBuffer();
      return response.status;
    },
    close: async () => undefined,
  };
}
