/**
 * Factorial emulator: Doorkeeper (Rails) authorization server with the authorization_code
 * and refresh_token grants, opaque 64-hex tokens with `created_at`, company tokens that
 * never expire, RFC 7009 revocation, JWT-shaped `x-api-key` API keys, per-resource scopes
 * (and the legacy read/write), loopback redirect URIs on any port, dated API versions, and
 * the employees and documents API with cursor pagination behind per-version POST limits
 * (100/min on `/api/v1`, 200/min on `/api/v2` and dated versions). docs/emulators.md lists
 * every behaviour with its source.
 */
import { ConfigError } from '../../errors.js';
import type { ApiAuth } from '../core/api-guard.js';
import {
  AuthorizationCodeStore,
  REUSED_CODE_MODES,
  type ReusedCodeMode,
} from '../core/authorization-codes.js';
import { parseJsonBody } from '../core/body.js';
import { CONTROL_PREFIX } from '../core/control-routes.js';
import { EmulatorClock } from '../core/emulator-clock.js';
import { FAULT_POINTS } from '../core/faults.js';
import { authorizationCodeGrant, refreshTokenGrant } from '../core/grants.js';
import type { RunningEmulator } from '../core/oauth-emulator.js';
import { startOAuthEmulator } from '../core/oauth-emulator.js';
import {
  REDIRECT_URI_MATCHINGS,
  type RedirectUriMatching,
  redirectUriMatches,
} from '../core/redirect-uris.js';
import { type EmulatorRequest, jsonResponse } from '../core/router.js';
import type { EmulatorStats } from '../core/stats.js';
import {
  type IssuedTokens,
  ROTATION_MODES,
  type RotationMode,
  TokenAuthority,
} from '../core/token-authority.js';
import { apiKeyMatches, emulatorApiKey, isJwtShaped } from './api-keys.js';
import {
  FACTORIAL_DEFAULT_API_VERSIONS,
  isQuarterlyVersion,
  RETIRED_VERSION_MODES,
  type RetiredVersionMode,
} from './api-versions.js';
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
  resourceScopeOf,
  USER_SUBJECT_PREFIX,
} from './factorial-api.js';
import { REVOKE_PATH, registerRevokeRoute } from './revoke-endpoint.js';
import {
  FACTORIAL_LEGACY_SCOPES,
  FACTORIAL_SCOPES,
  scopeAllows,
  splitScopes,
  unknownScopes,
} from './scopes.js';

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

/** The seeded client, API key and user a test or script logs in to the Factorial emulator with. */
export interface FactorialCredentials {
  clientId: string;
  clientSecret: string;
  /** The first registered redirect URI (the loopback one by default). */
  redirectUri: string;
  /** Every registered redirect URI of the client (loopback ones match on any port unless `redirectUriMatching: 'exact'`). */
  redirectUris: readonly string[];
  /** Sent as `x-api-key`; JWT-shaped, never expires, full access. */
  apiKey: string;
  user: Readonly<FactorialUser>;
}

/** Another OAuth application registered with the emulator (tests of "issued to another client"). */
export interface FactorialApplication {
  clientId: string;
  clientSecret: string;
  /** Default: the main client's redirect URIs. */
  redirectUris?: readonly string[];
  /** Default: the main client's scopes. */
  scopes?: readonly string[];
}

/** How the Factorial emulator should behave (lifetimes, rotation, consent, limits, versions); every field is optional. */
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
  /** The client's registered redirect URIs. Default {@link FACTORIAL_DEFAULT_REDIRECT_URIS}. */
  redirectUris?: readonly string[];
  /**
   * `loopback-any-port` (default, Doorkeeper and RFC 8252 §7.3): a registered loopback IP
   * redirect URI matches on any port; `exact`: character for character.
   */
  redirectUriMatching?: RedirectUriMatching;
  /**
   * The scopes the app is registered with; authorization requests may ask for these only.
   * Default: every scope the emulator knows (`read`, `write` and each per-resource scope).
   * Change them later with `setAppScopes` (which invalidates the app's tokens).
   */
  appScopes?: readonly string[];
  /** Supported dated API versions. Default {@link FACTORIAL_DEFAULT_API_VERSIONS} (one year of quarters). */
  apiVersions?: readonly string[];
  /** What a request to a retired version gets: `oldest` (default, the oldest supported version answers) or `not-found`. */
  retiredVersions?: RetiredVersionMode;
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

/** A started Factorial emulator, with the controls only Factorial has (app scopes, authorize and revoke URLs). */
export interface FactorialRunningEmulator extends RunningEmulator<FactorialCredentials> {
  stats(): FactorialEmulatorStats;
  /**
   * Changes the scopes an app is registered with (default: the main client), as an admin
   * would in Factorial's settings. When they differ from before, every token already issued
   * to the app stops working (oauth-scopes.md); returns how many tokens were revoked. Also
   * served as `POST /__emulator/app-scopes` with `{"scopes": "…", "client_id"?: "…"}`.
   */
  setAppScopes(scopes: readonly string[], clientId?: string): number;
  /** The scopes an app is registered with now (default: the main client). */
  appScopes(clientId?: string): readonly string[];
  /** `GET` it in a browser (or follow it) to get a code. */
  readonly authorizeUrl: string;
  /** RFC 7009 revocation endpoint. */
  readonly revokeUrl: string;
}

/** The client's redirect URIs unless `redirectUris` says otherwise: a loopback callback and out of band. */
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
  apiKey: emulatorApiKey(1, 1),
  user: FACTORIAL_EMULATOR_USER,
});

export const FACTORIAL_EMULATOR_COMPANY = Object.freeze({
  id: 1,
  name: 'Integrations - Factorial Emulator',
  legalName: 'Factorial Emulator S.L.',
  tin: 'B00000000',
});

type FactorialSettings = Required<
  Omit<
    FactorialEmulatorOptions,
    'now' | 'random' | 'credentials' | 'additionalClients' | 'redirectUris' | 'appScopes' | 'apiVersions'
  >
>;

/** What {@link startFactorialEmulator} uses for each setting left out, so a test can read a default instead of repeating it. */
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
  redirectUriMatching: 'loopback-any-port',
  retiredVersions: 'oldest',
});

const API_KEY_HEADER = 'x-api-key';
const API_KEY_ID = 1;

/**
 * Starts a Factorial emulator on 127.0.0.1 (a free port by default), for tests and scripts
 * that need Factorial's OAuth and API without the real service.
 */
export async function startFactorialEmulator(
  options: FactorialEmulatorOptions = {},
): Promise<FactorialRunningEmulator> {
  const {
    now: _now,
    random: _random,
    credentials: _credentials,
    additionalClients = [],
    redirectUris = FACTORIAL_DEFAULT_REDIRECT_URIS,
    appScopes = FACTORIAL_SCOPES,
    apiVersions = FACTORIAL_DEFAULT_API_VERSIONS,
    ...given
  } = options;
  const settings: FactorialSettings = { ...FACTORIAL_EMULATOR_DEFAULTS, ...withoutUndefined(given) };
  checkSettings(settings, redirectUris, additionalClients);
  checkScopesAndVersions(appScopes, additionalClients, apiVersions);
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
  if (!isJwtShaped(credentials.apiKey)) {
    throw new ConfigError(
      'Factorial emulator: credentials.apiKey must be JWT-shaped (three base64url segments).',
    );
  }

  const authority = new TokenAuthority({
    accessTtlSeconds: settings.accessTtlSeconds,
    refreshTtlSeconds: settings.refreshTtlSeconds,
    rotation: settings.rotation,
    graceSeconds: settings.graceSeconds,
    now,
  });
  const applications = new Map<string, RegisteredApplication>();
  const register = (client: FactorialApplication, name: string) => {
    authority.addClient({ id: client.clientId, secret: client.clientSecret });
    applications.set(client.clientId, {
      clientId: client.clientId,
      name,
      redirectUris: [...(client.redirectUris ?? redirectUris)],
      scopes: [...(client.scopes ?? appScopes)],
    });
  };
  register(credentials, 'tokenkeeper (emulated app)');
  for (const [index, client] of additionalClients.entries()) register(client, `Other app ${index + 1}`);

  const setAppScopes = (scopes: readonly string[], clientId = credentials.clientId): number => {
    const application = applications.get(clientId);
    if (!application) throw new ConfigError(`Factorial emulator: no app with client id ${clientId}.`);
    checkAppScopes(scopes, `app ${clientId}`);
    const before = new Set(application.scopes);
    const changed = scopes.length !== before.size || scopes.some((scope) => !before.has(scope));
    applications.set(clientId, { ...application, scopes: [...new Set(scopes)] });
    // "If you change the scopes in an already existing OAuth app, the already-generated tokens will become invalid."
    return changed ? authority.revokeClientTokens(clientId) : 0;
  };

  const codes = new AuthorizationCodeStore({
    ttlSeconds: settings.codeTtlSeconds,
    reusedCode: settings.reusedCode,
    now,
    redirectUriMatches: (requested, issuedFor) =>
      redirectUriMatches(requested, issuedFor, settings.redirectUriMatching),
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
    apiKey: { id: API_KEY_ID },
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
        apiKeyMatches(key, credentials.apiKey)
          ? { subject: `${API_KEY_SUBJECT_PREFIX}${API_KEY_ID}`, clientId: '', scopes: [...FACTORIAL_SCOPES] }
          : undefined,
    },
    missingScopes,
    optionalCounters: ['authorizations', 'revocations'],
    clock,
    random: options.random,
    faultPoints: FAULT_POINTS,
    tokenResponseBody: (tokens) => doorkeeperTokenBody(tokens, now()),
    routes: ({ router, api, stats, faults }) => {
      registerAuthorizeRoutes(router, {
        applications,
        redirectUriMatching: settings.redirectUriMatching,
        codes,
        consent: settings.consent,
        user: { email: user.email, password: user.password, subject: userSubject },
        companySubject,
        stats,
        faults,
        now,
      });
      registerRevokeRoute(router, { authority, errorStyle, stats, faults });
      registerFactorialApi(router, api, {
        employees,
        identity,
        versions: { supported: [...apiVersions].sort(), retired: settings.retiredVersions },
        notFound: errorStyle.notFound,
      });
      router.add('POST', `${CONTROL_PREFIX}/app-scopes`, (request) => {
        // Refused the way the other control routes refuse: {error, message}, unknown fields named.
        const refuse = (message: string) => jsonResponse(400, { error: 'invalid_app_scopes', message });
        const usage =
          'Send {"scopes": "employees documents"} (a string or a list), with "client_id" for another app.';
        const body = parseJsonBody(request);
        if (body === null || typeof body !== 'object' || Array.isArray(body)) return refuse(usage);
        const { scopes: given, client_id: givenClientId, ...rest } = body as Record<string, unknown>;
        const unknown = Object.keys(rest);
        if (unknown.length > 0) {
          return refuse(`Unknown field ${unknown.map((key) => JSON.stringify(key)).join(', ')}. ${usage}`);
        }
        if (givenClientId !== undefined && typeof givenClientId !== 'string') return refuse(usage);
        const scopes = typeof given === 'string' ? splitScopes(given) : given;
        const clientId = givenClientId ?? credentials.clientId;
        if (!Array.isArray(scopes) || scopes.some((scope) => typeof scope !== 'string')) return refuse(usage);
        try {
          const revokedTokens = setAppScopes(scopes as string[], clientId);
          return jsonResponse(200, {
            client_id: clientId,
            scopes: applications.get(clientId)?.scopes,
            revoked_tokens: revokedTokens,
          });
        } catch (error) {
          return refuse((error as Error).message);
        }
      });
    },
  });

  return {
    url: server.url,
    tokenUrl: server.tokenUrl,
    authorizeUrl: `${server.url}${AUTHORIZE_PATH}`,
    revokeUrl: `${server.url}${REVOKE_PATH}`,
    credentials,
    stats: () => server.stats() as FactorialEmulatorStats,
    setAppScopes,
    appScopes: (clientId = credentials.clientId) => [...(applications.get(clientId)?.scopes ?? [])],
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

/**
 * Who-am-I routes answer any credential; a resource's routes need its per-resource scope
 * or, for older apps, `read` (GET) / `write` (the rest). The 403 names the scope the token
 * is missing in its own vocabulary: `read`/`write` for a legacy token, the resource scope
 * otherwise.
 */
function missingScopes(request: EmulatorRequest, auth: ApiAuth): readonly string[] | undefined {
  if (isIdentityPath(request.path)) return undefined;
  const resource = resourceScopeOf(request.path);
  if (resource === undefined || scopeAllows(auth.scopes, resource, request.method)) return undefined;
  const legacy = auth.scopes.some((scope) => (FACTORIAL_LEGACY_SCOPES as readonly string[]).includes(scope));
  if (!legacy) return [resource];
  return [request.method === 'GET' || request.method === 'HEAD' ? 'read' : 'write'];
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
  oneOf('redirectUriMatching', settings.redirectUriMatching, REDIRECT_URI_MATCHINGS);
  oneOf('retiredVersions', settings.retiredVersions, RETIRED_VERSION_MODES);
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

function checkAppScopes(scopes: readonly string[], whose: string): void {
  if (!Array.isArray(scopes) || scopes.length === 0) {
    throw new ConfigError(`Factorial emulator: ${whose} needs at least one scope.`);
  }
  const unknown = unknownScopes(scopes);
  if (unknown.length > 0) {
    throw new ConfigError(
      `Factorial emulator: ${whose} has unknown scopes ${unknown.join(', ')}; known: ${FACTORIAL_SCOPES.join(', ')}.`,
    );
  }
}

function checkScopesAndVersions(
  appScopes: readonly string[],
  additionalClients: readonly FactorialApplication[],
  apiVersions: readonly string[],
): void {
  checkAppScopes(appScopes, 'appScopes');
  for (const client of additionalClients) {
    if (client.scopes) checkAppScopes(client.scopes, `client ${client.clientId}`);
  }
  if (!Array.isArray(apiVersions) || apiVersions.length === 0) {
    throw new ConfigError('Factorial emulator: apiVersions needs at least one dated version.');
  }
  for (const version of apiVersions) {
    if (typeof version !== 'string' || !isQuarterlyVersion(version)) {
      throw new ConfigError(
        `Factorial emulator: API version ${JSON.stringify(version)} must be the first day of a quarter, e.g. 2026-07-01.`,
      );
    }
  }
}
