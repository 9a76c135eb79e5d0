/**
 * The one small interface every contender is measured through: log in once,
 * get a token, make an authenticated request. Each implementation wires its
 * library the way that library's own documentation shows, no better and no worse.
 */

export interface PasswordCredentials {
  clientId: string;
  clientSecret: string;
  username: string;
  password: string;
}

export interface PeerOptions {
  /** API base URL, e.g. http://127.0.0.1:1234 (the token endpoint is `${baseUrl}/oauth/token`). */
  baseUrl: string;
  credentials: PasswordCredentials;
  /** tokenkeeper: where connections live. Default `memory:`. */
  store?: string;
  /** tokenkeeper: another process already logged in to this store; only read it. */
  connectionExists?: boolean;
  /** tokenkeeper: refresh in the background before expiry. Default true, as for its users. */
  proactiveRefresh?: boolean;
  /** seed: its fixed refresh interval (55 minutes for 60-minute tokens; scaled with the lifetime). */
  refreshEveryMs?: number;
  /** seed: a refresh_token already in the environment when the process starts. */
  refreshToken?: string;
}

export interface Peer {
  /** Obtains the first token (password grant), as the application does when it starts. */
  login(): Promise<void>;
  /** An access token, refreshed first if this library would do so. */
  getToken(): Promise<string>;
  /** One authenticated GET of `path`; resolves to the final HTTP status (the body is read and dropped). */
  fetch(path: string): Promise<number>;
  close(): Promise<void>;
}

export const TOKEN_PATH = '/oauth/token';

export function tokenUrlOf(baseUrl: string): string {
  return `${baseUrl}${TOKEN_PATH}`;
}
