/**
 * One strategy per grant: everything that depends on which grant a connection
 * uses is answered here, and nowhere else. Which credentials it needs (for
 * `connect` and for the CLI's prompts), whether it can run without a person, how
 * it gets its first tokens, which header carries its credential, and whether its
 * tokens can be refreshed or revoked.
 *
 * The modules that talk to a token endpoint (and oauth4webapi behind them) are
 * imported only when a grant runs: a process that only reads fresh tokens from
 * the store, such as `tokenkeeper token`, never loads them.
 */
import { ConfigError } from '../errors.js';
import type { Credential } from '../http/auth-fetch.js';
import { TokenSet } from '../token-set.js';
import type { ClientConfig, GrantResult, TokenRequestContext } from './token-endpoint.js';
import type { GrantType } from './types.js';

export type CredentialField = 'clientId' | 'clientSecret' | 'username' | 'password' | 'apiKey';

export interface CredentialNeed {
  field: CredentialField;
  /** `connect` refuses a connection without it; the others are asked for, but may be absent. */
  required: boolean;
  /** Only for a client secret: a public client (PKCE, no secret) may leave it empty. */
  emptyForPublicClient?: boolean;
}

/** What a person gave at login, or what the store kept of it. */
export interface GrantCredentials {
  clientId?: string;
  clientSecret?: string;
  username?: string;
  password?: string;
  apiKey?: string;
}

/** What came back to the redirect URI, for the authorization code grant. */
export interface AuthorizationCodeResult {
  code: string;
  redirectUri: string;
  codeVerifier?: string;
}

export interface LoginInput {
  /** Undefined for grants that never talk to a token endpoint (API keys). */
  client: (() => ClientConfig) | undefined;
  credentials: GrantCredentials;
  scope?: string;
  authorizationCode?: AuthorizationCodeResult;
  /** Names the connection and the command that starts over, in messages. */
  connection: string;
  now: number;
}

/** First tokens: either a token-endpoint response, or a credential that is its own token. */
export type FirstTokens = { kind: 'response'; result: GrantResult } | { kind: 'static'; tokens: TokenSet };

export interface GrantStrategy {
  readonly grant: GrantType;
  /** In the order a person is asked for them. */
  readonly fields: readonly CredentialNeed[];
  /** A person approves in a browser at login; the CLI runs that step before `connect`. */
  readonly needsBrowser: boolean;
  /** Tokens can be renewed (with a refresh token, or by running the grant again). */
  readonly refreshable: boolean;
  /** Tokens can be revoked at the provider (RFC 7009). */
  readonly revocable: boolean;
  /** The credential is tried against the provider's identity endpoint before it is saved. */
  readonly checkedAtLogin: boolean;
  /** Can get new tokens without a person, from what the connection saved. */
  canRunUnattended(saved: GrantCredentials & { clientId?: string | undefined }): boolean;
  firstTokens(input: LoginInput, ctx: TokenRequestContext): Promise<FirstTokens>;
  /** Runs the grant again without a person (password, client credentials). */
  obtainUnattended(input: LoginInput, ctx: TokenRequestContext): Promise<GrantResult>;
  /** The header a token of this grant is sent in. */
  credentialHeader(provider: { apiKeyHeader?: string }): string;
  credential(token: string, provider: { apiKeyHeader?: string }): Credential;
}

/** Stored as the token type of an API key, which is kept as a never-expiring token. */
export const API_KEY_TOKEN_TYPE = 'ApiKey';

const bearer = {
  credentialHeader: () => 'authorization',
  credential: (token: string): Credential => ({ header: 'authorization', value: `Bearer ${token}` }),
};

function needsAPerson(grant: GrantType) {
  return async (input: LoginInput): Promise<never> => {
    throw new ConfigError(
      `Connection "${input.connection}" uses the ${grant} grant, which needs a person; run \`tokenkeeper login ${input.connection}\`.`,
    );
  };
}

function clientOf(input: LoginInput): ClientConfig {
  if (!input.client) throw new ConfigError(`Connection "${input.connection}" has no OAuth client.`);
  return input.client();
}

const password: GrantStrategy = {
  grant: 'password',
  fields: [
    { field: 'clientId', required: true },
    { field: 'clientSecret', required: false },
    { field: 'username', required: true },
    { field: 'password', required: true },
  ],
  needsBrowser: false,
  refreshable: true,
  revocable: true,
  checkedAtLogin: false,
  canRunUnattended: (saved) => Boolean(saved.username && saved.password),
  async firstTokens(input, ctx) {
    return { kind: 'response', result: await this.obtainUnattended(input, ctx) };
  },
  async obtainUnattended(input, ctx) {
    const { username, password } = input.credentials;
    if (!username || !password) {
      throw new ConfigError(`Connection "${input.connection}" has no saved user name and password.`);
    }
    const { passwordGrant } = await import('./password.js');
    return passwordGrant(clientOf(input), { username, password }, ctx, input.scope);
  },
  ...bearer,
};

const clientCredentials: GrantStrategy = {
  grant: 'client_credentials',
  fields: [
    { field: 'clientId', required: true },
    { field: 'clientSecret', required: false },
  ],
  needsBrowser: false,
  refreshable: true,
  revocable: true,
  checkedAtLogin: false,
  canRunUnattended: (saved) => Boolean(saved.clientId),
  async firstTokens(input, ctx) {
    return { kind: 'response', result: await this.obtainUnattended(input, ctx) };
  },
  async obtainUnattended(input, ctx) {
    const { clientCredentialsGrant } = await import('./client-credentials.js');
    return clientCredentialsGrant(clientOf(input), ctx, input.scope);
  },
  ...bearer,
};

const authorizationCode: GrantStrategy = {
  grant: 'authorization_code',
  fields: [
    { field: 'clientId', required: true },
    { field: 'clientSecret', required: false, emptyForPublicClient: true },
  ],
  needsBrowser: true,
  refreshable: true,
  revocable: true,
  checkedAtLogin: false,
  canRunUnattended: () => false,
  async firstTokens(input, ctx) {
    if (!input.authorizationCode) {
      throw new ConfigError(
        `The authorization code grant needs the code from the browser: run \`tokenkeeper login ${input.connection}\`, or pass authorizationCode (see createAuthorizationRequest).`,
      );
    }
    const { exchangeAuthorizationCode } = await import('./authorization-code.js');
    return {
      kind: 'response',
      result: await exchangeAuthorizationCode(clientOf(input), input.authorizationCode, ctx),
    };
  },
  obtainUnattended: needsAPerson('authorization_code'),
  ...bearer,
};

const apiKey: GrantStrategy = {
  grant: 'api_key',
  fields: [{ field: 'apiKey', required: true }],
  needsBrowser: false,
  // An API key does not expire and cannot be renewed: a 401 on it goes back to the caller.
  refreshable: false,
  revocable: false,
  checkedAtLogin: true,
  canRunUnattended: () => false,
  async firstTokens(input) {
    const tokens = new TokenSet({
      accessToken: input.credentials.apiKey ?? '',
      tokenType: API_KEY_TOKEN_TYPE,
      expiresAt: null,
      obtainedAt: input.now,
    });
    return { kind: 'static', tokens };
  },
  obtainUnattended: needsAPerson('api_key'),
  credentialHeader: (provider) => provider.apiKeyHeader ?? 'x-api-key',
  credential: (token, provider) => ({ header: provider.apiKeyHeader ?? 'x-api-key', value: token }),
};

const strategies: Record<GrantType, GrantStrategy> = {
  password,
  client_credentials: clientCredentials,
  authorization_code: authorizationCode,
  api_key: apiKey,
};

/** Every grant tokenkeeper runs. */
export const GRANT_TYPES = Object.keys(strategies) as GrantType[];

export function isGrantType(value: string): value is GrantType {
  return Object.hasOwn(strategies, value);
}

export function grantStrategy(grant: GrantType): GrantStrategy {
  const strategy = strategies[grant];
  if (!strategy) throw new ConfigError(`Unknown grant "${grant}"; use one of ${GRANT_TYPES.join(', ')}.`);
  return strategy;
}
