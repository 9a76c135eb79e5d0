/** tokenkeeper as its users wire it: one keeper, one connection, `keeper.fetch` and `keeper.getAccessToken`. */
import { createKeeper } from '../../src/keeper.js';
import { factusProfile } from '../../src/providers/factus.js';
import type { ProviderProfile } from '../../src/providers/types.js';
import type { Peer, PeerOptions } from './types.js';

/**
 * Factus as tokenkeeper knows it, minus its client-side limit of 80 requests a minute:
 * the loopback servers have no such limit, and with it every figure would only
 * measure the limiter's waiting.
 */
export const benchProfile: ProviderProfile = {
  ...factusProfile,
  id: 'factus-bench',
  displayName: 'Factus (benchmark profile, no client-side rate limit)',
  rateLimits: [],
};

export const CONNECTION = 'bench';

export function createTokenkeeperPeer(options: PeerOptions): Peer {
  const keeper = createKeeper({
    store: options.store ?? 'memory:',
    providers: [benchProfile],
    proactiveRefresh: options.proactiveRefresh ?? true,
    // Nothing from the bench's own environment (TOKENKEEPER_STORE, TOKENKEEPER_KEY) leaks in.
    env: {},
  });
  return {
    async login() {
      if (options.connectionExists) {
        // Another process logged in; a running application would hold its token in memory.
        await keeper.getAccessToken(CONNECTION);
        return;
      }
      const { clientId, clientSecret, username, password } = options.credentials;
      await keeper.connect(CONNECTION, {
        provider: benchProfile.id,
        baseUrl: options.baseUrl,
        clientId,
        clientSecret,
        username,
        password,
      });
    },
    getToken: () => keeper.getAccessToken(CONNECTION),
    async fetch(path) {
      const response = await keeper.fetch(CONNECTION, path);
      await response.arrayBuffer();
      return response.status;
    },
    close: () => keeper.close(),
  };
}
