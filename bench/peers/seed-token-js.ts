/**
 * The seed's own approach, re-implemented small and faithfully (its src/auth/token.js
 * as the seed describes it):
 *
 * - tokens live in process memory (the seed writes them to `process.env`; here an
 *   object stands in for it, so two instances in one process do not share it);
 * - the grant is chosen at call time: `refresh_token` when one is in the environment,
 *   else `password`; the form is urlencoded, sent with axios;
 * - `token()` fires the first request without waiting for it and starts a fixed
 *   `setInterval` (55 minutes for Factus's 60-minute tokens); failures are only logged;
 * - API calls read the in-memory access token into a Bearer header; no retry on 401,
 *   no look at expiry, no coordination with other processes.
 *
 * Two concessions to measuring it: `login()` waits for the first answer so the peer
 * starts with a token like the others, and nothing is printed (the seed logs the
 * error, and the access token on success, with console.log).
 */
import axios from 'axios';
import { type Peer, type PeerOptions, tokenUrlOf } from './types.js';

const SEED_INTERVAL_MS = 3_300_000;

export function createSeedPeer(options: PeerOptions): Peer {
  const { clientId, clientSecret, username, password } = options.credentials;
  // Stands in for process.env.
  const env: { access_token?: string; refresh_token?: string } = {
    ...(options.refreshToken ? { refresh_token: options.refreshToken } : {}),
  };
  let interval: NodeJS.Timeout | undefined;

  const query = (): Promise<void> => {
    const fields: Record<string, string> = env.refresh_token
      ? {
          grant_type: 'refresh_token',
          client_id: clientId,
          client_secret: clientSecret,
          refresh_token: env.refresh_token,
        }
      : { grant_type: 'password', client_id: clientId, client_secret: clientSecret, username, password };
    return (
      axios({
        method: 'post',
        url: tokenUrlOf(options.baseUrl),
        headers: { Accept: 'application/json', 'Content-Type': 'application/x-www-form-urlencoded' },
        data: new URLSearchParams(fields).toString(),
      })
        .then((res) => {
          env.access_token = res.data.access_token;
          env.refresh_token = res.data.refresh_token;
        })
        // The seed logs the error and carries on with whatever token it had (or none).
        .catch(() => undefined)
    );
  };

  /** The seed's exported `token()`. */
  const token = (): Promise<void> => {
    const first = query();
    interval = setInterval(() => void query(), options.refreshEveryMs ?? SEED_INTERVAL_MS);
    return first;
  };

  return {
    login: token,
    getToken: async () => env.access_token ?? '',
    async fetch(path) {
      try {
        const response = await axios({
          method: 'get',
          url: `${options.baseUrl}${path}`,
          headers: { Accept: 'application/json', Authorization: `Bearer ${env.access_token}` },
        });
        return response.status;
      } catch (error) {
        if (axios.isAxiosError(error) && error.response) return error.response.status;
        throw error;
      }
    },
    async close() {
      clearInterval(interval);
    },
  };
}
