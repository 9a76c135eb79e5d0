/**
 * axios + axios-auth-refresh, wired as its README shows: a request interceptor
 * puts the current token on every request, and `refreshAuthLogic` runs the
 * refresh-token grant when a request comes back 401, then the request is retried.
 * The library refreshes only after a 401: it never looks at expiry.
 */
import axios, { type AxiosResponse } from 'axios';
import { createAuthRefresh } from 'axios-auth-refresh';
import { type Peer, type PeerOptions, tokenUrlOf } from './types.js';

interface TokenBody {
  access_token: string;
  refresh_token?: string;
}

export function createAxiosAuthRefreshPeer(options: PeerOptions): Peer {
  const { clientId, clientSecret, username, password } = options.credentials;
  let accessToken = '';
  let refreshToken = '';

  const requestTokens = async (fields: Record<string, string>): Promise<void> => {
    const response: AxiosResponse<TokenBody> = await axios.post(
      tokenUrlOf(options.baseUrl),
      new URLSearchParams({ client_id: clientId, client_secret: clientSecret, ...fields }),
      { headers: { Accept: 'application/json' } },
    );
    accessToken = response.data.access_token;
    refreshToken = response.data.refresh_token ?? refreshToken;
  };

  const api = axios.create({ baseURL: options.baseUrl, headers: { Accept: 'application/json' } });
  api.interceptors.request.use((request) => {
    request.headers.Authorization = `Bearer ${accessToken}`;
    return request;
  });
  // The same axios instance; the cast only bridges axios's ESM and CommonJS type declarations.
  createAuthRefresh(
    api as unknown as Parameters<typeof createAuthRefresh>[0],
    async (failedRequest: { response: AxiosResponse }) => {
      await requestTokens({ grant_type: 'refresh_token', refresh_token: refreshToken });
      failedRequest.response.config.headers.Authorization = `Bearer ${accessToken}`;
    },
  );

  return {
    login: () => requestTokens({ grant_type: 'password', username, password }),
    getToken: async () => accessToken,
    async fetch(path) {
      try {
        return (await api.get(path)).status;
      } catch (error) {
        if (axios.isAxiosError(error) && error.response) return error.response.status;
        throw error;
      }
    },
    close: async () => undefined,
  };
}
