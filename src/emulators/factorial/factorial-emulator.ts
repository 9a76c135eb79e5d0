/**
 * Factorial emulator: Doorkeeper (Rails) authorization server with the authorization_code
 * and refresh_token grants, opaque 64-hex tokens with `created_at`, company tokens that
 * never expire, RFC 7009 revocation, `x-api-key` API keys, read/write scopes, and the
 * employees API with cursor pagination behind per-version POST limits (100/min on
 * `/api/v1`, 200/min on `/api/v2` and dated versions).
 */
import { ConfigError } from '../../errors.js';
import {
  AuthorizationCodeStore,
  REUSED_CODE_MODES,
  type ReusedCodeMode,
} from '../core/authorization-codes.js';
import { EmulatorClock } from '../core/emulator-clock.js';
import { FAULT_POINTS } from '../core/faults.js';
import { authorizationCodeGrant, refreshTokenGrant } from '../core/grants.js';
import type { RunningEmulator } from '../core/oauth-emulator.js';
import { startOAuthEmulator } from '../core/oauth-emulator.js';
import type { EmulatorRequest } from '../core/router.js';
import type { EmulatorStats } from '../core/stats.js';
import {
  type IssuedTokens,
  ROTATION_MODES,
  type RotationMode,
  safeEqual,
  TokenAuthority,
} from '../core/token-authority.js';
import {
  AUTHORIZE_PATH,
  CONSENT_MODES,
  type ConsentMode,
  OUT_OF_BAND_REDIRECT_URI,
  type RegisteredApplication,
  registerAuthorizeRoutes,
} from './authorize-endpoint.js';
import { doorkeeperErrorStyle } from './doorkeeper-error-style.js';
import { EmployeeStore } from './employee-store.js';
import {
  API_KEY_SUBJECT_PREFIX,
  COMPANY_SUBJECT_PREFIX,
  type FactorialIdentity,
  isIdentityPath,
  registerFactorialApi,
  USER_SUBJECT_PREFIX,
} from './factorial-api.js';
import { REVOKE_PATH, registerRevokeRoute } from './revoke-endpoint.js';
import { FACTORIAL_SCOPES } from './scopes.js';

/** The seeded user: signs in on the consent form, owns user tokens, is employee 1. */
export interface FactorialUser {
  email: string;
  password: string;
  firstName: string;
  lastName: string;
  fullName: string;
  employeeId: number;
  role: 'admin';
}

export interface FactorialCredentials {
  clientId: string;
  clientSecret: string;
  /** The first registered redirect URI (the loopback one by default). */
  redirectUri: string;
  /** Every registered redirect URI of the client, matched exactly. */
  redirectUris: readonly string[];
  /** Sent as `x-api-key`; never expires, full access. */
  apiKey: string;
  user: Readonly<FactorialUser>;
}

/** Another OAuth application registered with the emulator (tests of "issued to another client"). */
export interface FactorialApplication {
  clientId: string;
  clientSecret: string;
  /** Default: the main client's redirect URIs. */
  redirectUris?: readonly string[];
}

export interface FactorialEmulatorOptions {
  /** 0 (default) picks a free port; the server listens on 127.0.0.1 only. */
  port?: number;
  /** Default 7200. Company tokens never expire whatever this says. */
  accessTtlSeconds?: number;
  /** Default 7 days. */
  refreshTtlSeconds?: number;
  /** Default `strict`: a refresh issues a new access AND refresh token and revokes both old ones. */
  rotation?: RotationMode;
  /** How long a rotated refresh token stays usable in `grace` mode. Default 30. */
  graceSeconds?: number;
  /** Exchanging a code a second time: `invalid_grant` (default) or `same-token`. */
  reusedCode?: ReusedCodeMode;
  /** `auto` (default): the authorize URL redirects with a code at once; `form`: sign-in and consent page first. */
  consent?: ConsentMode;
  /** The client's registered redirect URIs, matched exactly. Default {@link FACTORIAL_DEFAULT_REDIRECT_URIS}. */
  redirectUris?: readonly string[];
  /** POST requests per minute per token owner (or API key) on `/api/v1`. Default 100. */
  postLimitV1PerMinute?: number;
  /** POST requests per minute per token owner (or API key) on `/api/v2` and dated versions. Default 200. */
  postLimitV2PerMinute?: number;
  /** How long an authorization code can be exchanged. Default 600 (Doorkeeper's 10 minutes). */
  codeTtlSeconds?: number;
  /** Doorkeeper's `WWW-Authenticate: Bearer …` challenge on token endpoint errors. Default true. */
  tokenErrorChallenges?: boolean;
  /** Milliseconds since the epoch; default Date.now. Drives token and code expiry and the rate limits. */
  now?: () => number;
  /** Draws for fault rules' `ratio`, in [0, 1); default Math.random. Seed one for repeatable tests. */
  random?: () => number;
  /** The seeded client and API key; defaults are {@link FACTORIAL_EMULATOR_CREDENTIALS}. */
  credentials?: Partial<Pick<FactorialCredentials, 'clientId' | 'clientSecret' | 'apiKey'>>;
  /** More OAuth applications besides the main client. */
  additionalClients?: readonly FactorialApplication[];
}

/** The common counters plus `authorizations` (codes issued) and `revocations` (tokens revoked by their client). */
export type FactorialEmulatorStats = EmulatorStats & { authorizations: number; revocations: number };

export interface FactorialRunningEmulator extends RunningEmulator<FactorialCredentials> {
  stats(): FactorialEmulatorStats;
  /** `GET` it in a browser (or follow it) to get a code. */
  readonly authorizeUrl: string;
  /** RFC 7009 revocation endpoint. */
  readonly revokeUrl: string;
}

export const FACTORIAL_DEFAULT_REDIRECT_URIS: readonly string[] = Object.freeze([
  'http://127.0.0.1:8765/callback',
  OUT_OF_BAND_REDIRECT_URI,
]);

export const FACTORIAL_EMULATOR_USER: Readonly<FactorialUser> = Object.freeze({
  email: 'demo@factorial.example',
  password: 'factorial-emulator-password',
  firstName: 'Ada',
  lastName: 'Lovelace',
  fullName: 'Ada Lovelace',
  employeeId: 1,
  role: 'admin',
});

/** Fixed on purpose so docs and scripts can use them: this is an emulator. */
export const FACTORIAL_EMULATOR_CREDENTIALS: Readonly<FactorialCredentials> = Object.freeze({
  clientId: 'factorial-emulator-client',
  clientSecret: 'factorial-emulator-secret-3b8e1f6a9c2d4705',
  redirectUri: FACTORIAL_DEFAULT_REDIRECT_URIS[0] as string,
  redirectUris: FACTORIAL_DEFAULT_REDIRECT_URIS,
  apiKey: 'factorial-emulator-api-key-9d41c7e2a05b6f38',
  user: FACTORIAL_EMULATOR_USER,
});

export const FACTORIAL_EMULATOR_COMPANY = Object.freeze({ id: 1, name: 'Integrations - Factorial Emulator' });

type FactorialSettings = Required<
  Omit<FactorialEmulatorOptions, 'now' | 'random' | 'credentials' | 'additionalClients' | 'redirectUris'>
>;

export const FACTORIAL_EMULATOR_DEFAULTS: Readonly<FactorialSettings> = Object.freeze({
  port: 0,
  accessTtlSeconds: 7200,
  refreshTtlSeconds: 7 * 24 * 60 * 60,
  rotation: 'strict',
  graceSeconds: 30,
  reusedCode: 'invalid_grant',
  consent: 'auto',
  postLimitV1PerMinute: 100,
  postLimitV2PerMinute: 200,
  codeTtlSeconds: 600,
  tokenErrorChallenges: true,
});

const API_KEY_HEADER = 'x-api-key';
const API_KEY_ID = 1;

export async function startFactorialEmulator(
  options: FactorialEmulatorOptions = {},
): Promise<FactorialRunningEmulator> {
  const {
    now: _now,
    random: _random,
    credentials: _credentials,
    additionalClients = [],
    redirectUris = FACTORIAL_DEFAULT_REDIRECT_URIS,
    ...given
  } = options;
  const settings: FactorialSettings = { ...FACTORIAL_EMULATOR_DEFAULTS, ...withoutUndefined(given) };
  checkSettings(settings, redirectUris, additionalClients);
  // Skewed by POST /__emulator/clock; everything below reads this `now`.
  const clock = new EmulatorClock(options.now);
  const now = clock.now;
  const overrides = withoutUndefined(options.credentials ?? {});
  const credentials: FactorialCredentials = {
    ...FACTORIAL_EMULATOR_CREDENTIALS,
    ...overrides,
    redirectUri: redirectUris[0] as string,
    redirectUris: Object.freeze([...redirectUris]),
  };

  const authority = new TokenAuthority({
    accessTtlSeconds: settings.accessTtlSeconds,
    refreshTtlSeconds: settings.refreshTtlSeconds,
    rotation: settings.rotation,
    graceSeconds: settings.graceSeconds,
    revokeAccessTokenOnRefresh: settings.rotation !== 'grace',
    now,
  });
  const applications = new Map<string, RegisteredApplication>();
  const register = (clientId: string, clientSecret: string, uris: readonly string[], name: string) => {
    authority.addClient({ id: clientId, secret: clientSecret });
    applications.set(clientId, { clientId, name, redirectUris: [...uris] });
  };
  register(
    credentials.clientId,
    credentials.clientSecret,
    credentials.redirectUris,
    'tokenkeeper (emulated app)',
  );
  for (const [index, client] of additionalClients.entries()) {
    register(
      client.clientId,
      client.clientSecret,
      client.redirectUris ?? redirectUris,
      `Other app ${index + 1}`,
    );
  }

  const codes = new AuthorizationCodeStore({
    ttlSeconds: settings.codeTtlSeconds,
    reusedCode: settings.reusedCode,
    now,
  });
  const user = FACTORIAL_EMULATOR_USER;
  const identity: FactorialIdentity = {
    user: {
      accessId: user.employeeId,
      employeeId: user.employeeId,
      email: user.email,
      firstName: user.firstName,
      lastName: user.lastName,
      role: user.role,
    },
    company: { ...FACTORIAL_EMULATOR_COMPANY },
    apiKey: { id: API_KEY_ID, name: 'Emulator API key' },
  };
  const userSubject = `${USER_SUBJECT_PREFIX}${identity.user.accessId}`;
  const companySubject = `${COMPANY_SUBJECT_PREFIX}${identity.company.id}`;
  const employees = new EmployeeStore({ companyId: identity.company.id, legalEntityId: 1, now });
  employees.seed(user);

  const errorStyle = doorkeeperErrorStyle({ tokenErrorChallenges: settings.tokenErrorChallenges });
  const server = await startOAuthEmulator({
    port: settings.port,
    authority,
    grants: { authorization_code: authorizationCodeGrant(codes), refresh_token: refreshTokenGrant },
    errorStyle,
    rateLimitPerMinute: settings.postLimitV2PerMinute,
    rateLimitKey: (request, auth) => {
      if (request.method !== 'POST') return undefined;
      const v1 = request.path.startsWith('/api/v1/');
      return {
        key: `${auth.subject}|${v1 ? 'v1' : 'v2'}`,
        limit: v1 ? settings.postLimitV1PerMinute : settings.postLimitV2PerMinute,
      };
    },
    apiKey: {
      header: API_KEY_HEADER,
      authenticate: (key) =>
        safeEqual(key, credentials.apiKey)
          ? { subject: `${API_KEY_SUBJECT_PREFIX}${API_KEY_ID}`, clientId: '', scopes: [...FACTORIAL_SCOPES] }
          : undefined,
    },
    requiredScopes: requiredScopes,
    optionalCounters: ['authorizations', 'revocations'],
    clock,
    random: options.random,
    faultPoints: FAULT_POINTS,
    tokenResponseBody: (tokens) => doorkeeperTokenBody(tokens, now()),
    routes: ({ router, api, stats, faults }) => {
      registerAuthorizeRoutes(router, {
        applications,
        codes,
        consent: settings.consent,
        user: { email: user.email, password: user.password, subject: userSubject },
        companySubject,
        stats,
        faults,
        now,
      });
      registerRevokeRoute(router, { authority, errorStyle, stats, faults });
      registerFactorialApi(router, api, { employees, identity, notFound: errorStyle.notFound });
    },
  });

  return {
    url: server.url,
    tokenUrl: server.tokenUrl,
    authorizeUrl: `${server.url}${AUTHORIZE_PATH}`,
    revokeUrl: `${server.url}${REVOKE_PATH}`,
    credentials,
    stats: () => server.stats() as FactorialEmulatorStats,
    resetStats: server.resetStats,
    faults: server.faults,
    setClockSkew: server.setClockSkew,
    stop: server.stop,
  };
}

/**
 * Doorkeeper's TokenResponse: `expires_in` is what is LEFT of the token's life (so a
 * same-token answer to a reused code says less than 7200), omitted for a token that never
 * expires; `created_at` is when the token was created, in unix seconds.
 */
function doorkeeperTokenBody(tokens: IssuedTokens, nowMs: number): Record<string, unknown> {
  const { accessToken, refreshToken } = tokens;
  const body: Record<string, unknown> = { access_token: accessToken.token, token_type: 'Bearer' };
  if (Number.isFinite(accessToken.expiresAtMs)) {
    body.expires_in = Math.max(0, Math.round((accessToken.expiresAtMs - nowMs) / 1000));
  }
  if (refreshToken) body.refresh_token = refreshToken.token;
  body.scope = accessToken.scopes.join(' ');
  body.created_at = Math.floor(accessToken.issuedAtMs / 1000);
  return body;
}

/** Reads need `read`, everything else `write`; who-am-I routes need nothing. */
function requiredScopes(request: EmulatorRequest): readonly string[] {
  if (isIdentityPath(request.path)) return [];
  return request.method === 'GET' || request.method === 'HEAD' ? ['read'] : ['write'];
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined)) as Partial<T>;
}

function checkSettings(
  settings: FactorialSettings,
  redirectUris: readonly string[],
  additionalClients: readonly FactorialApplication[],
): void {
  const fail = (message: string): never => {
    throw new ConfigError(`Factorial emulator: ${message}`);
  };
  const { port } = settings;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    fail(`port must be an integer from 0 to 65535 (0 picks a free port), got ${port}.`);
  }
  const positive = [
    'accessTtlSeconds',
    'refreshTtlSeconds',
    'postLimitV1PerMinute',
    'postLimitV2PerMinute',
    'codeTtlSeconds',
  ] as const;
  for (const name of positive) {
    const value = settings[name];
    if (!Number.isInteger(value) || value <= 0) fail(`${name} must be a positive integer, got ${value}.`);
  }
  if (!Number.isFinite(settings.graceSeconds) || settings.graceSeconds < 0) {
    fail(`graceSeconds must be 0 or more, got ${settings.graceSeconds}.`);
  }
  const oneOf = <T extends string>(name: string, value: T, allowed: readonly T[]) => {
    if (!allowed.includes(value)) fail(`${name} must be one of ${allowed.join(', ')}, got ${String(value)}.`);
  };
  oneOf('rotation', settings.rotation, ROTATION_MODES);
  oneOf('reusedCode', settings.reusedCode, REUSED_CODE_MODES);
  oneOf('consent', settings.consent, CONSENT_MODES);
  const checkUris = (uris: readonly string[], whose: string) => {
    if (!Array.isArray(uris) || uris.length === 0) fail(`${whose} needs at least one redirect URI.`);
    for (const uri of uris) {
      if (typeof uri !== 'string' || !URL.canParse(uri) || uri.includes('#')) {
        fail(`${whose}: redirect URI ${JSON.stringify(uri)} must be an absolute URI without a fragment.`);
      }
    }
  };
  checkUris(redirectUris, 'redirectUris');
  for (const client of additionalClients) {
    if (!client.clientId || !client.clientSecret)
      fail('every additional client needs a clientId and a clientSecret.');
    if (client.redirectUris) checkUris(client.redirectUris, `client ${client.clientId}`);
  }
}
