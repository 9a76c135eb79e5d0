/**
 * The floor: Node's fetch with a token obtained once and never refreshed, the
 * header written at the call site. Anything that refreshes tokens costs at least this.
 */
import { type Peer, type PeerOptions, tokenUrlOf } from './types.js';

export function createRawFetchPeer(options: PeerOptions): Peer {
  let accessToken = '';
  return {
    async login() {
      const { clientId, clientSecret, username, password } = options.credentials;
      const response = await fetch(tokenUrlOf(options.baseUrl), {
        method: 'POST',
        headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'password',
          client_id: clientId,
          client_secret: clientSecret,
          username,
          password,
        }),
      });
      if (!response.ok) throw new Error(`token endpoint answered HTTP ${response.status}`);
      accessToken = ((await response.json()) as { access_token: string }).access_token;
    },
    getToken: async () => accessToken,
    async fetch(path) {
      const response = await fetch(`${options.baseUrl}${path}`, {
        headers: { authorization: `Bearer ${accessToken}` },
      });
      await response.arrayBuffer();
      return response.status;
    },
    close: async () => undefined,
  };
}
