/**
 * What a caller gives `connect` and how it becomes a connection record: checked
 * against the provider profile, with endpoints already resolved.
 */
import { randomUUID } from 'node:crypto';
import type { ConnectionRecord } from './connection.js';
import { ConfigError } from './errors.js';
import { type AuthorizationCodeResult, grantStrategy } from './grants/strategies.js';
import type { GrantType } from './grants/types.js';
import type { ConnectOptions } from './keeper.js';
import { kindOf, refuseUnknownKeys } from './options.js';
import type { EndpointChoices, ResolvedEndpoints } from './providers/connection-endpoints.js';
import type { ProviderProfile } from './providers/types.js';

/** Where, and the credentials of the chosen grant. Secrets are stored encrypted. */
export interface ConnectionSpec extends EndpointChoices {
  provider: string;
  grant?: GrantType;
  clientId?: string;
  clientSecret?: string;
  username?: string;
  password?: string;
  apiKey?: string;
  scope?: string;
  /** For the authorization code grant: what came back to the redirect URI (see createAuthorizationRequest). */
  authorizationCode?: AuthorizationCodeResult;
}

/** Every field connect reads from a spec; the `satisfies` keeps it in step with ConnectionSpec. */
const SPEC_FIELDS = Object.keys({
  provider: true,
  grant: true,
  clientId: true,
  clientSecret: true,
  username: true,
  password: true,
  apiKey: true,
  scope: true,
  authorizationCode: true,
  environment: true,
  baseUrl: true,
  issuer: true,
  tokenUrl: true,
  authorizationUrl: true,
  revocationUrl: true,
  userinfoUrl: true,
  apiBaseUrl: true,
  clientAuthMethod: true,
} satisfies Record<keyof ConnectionSpec, true>);

const CONNECT_OPTIONS = Object.keys({
  authorize: true,
  reuseSaved: true,
  loginHint: true,
} satisfies Record<keyof ConnectOptions, true>);

/** The spec fields that hold text; any other type is a caller's mistake. */
const TEXT_FIELDS = [
  'provider',
  'grant',
  'clientId',
  'clientSecret',
  'username',
  'password',
  'apiKey',
  'scope',
  'environment',
  'baseUrl',
  'issuer',
  'tokenUrl',
  'authorizationUrl',
  'revocationUrl',
  'userinfoUrl',
  'apiBaseUrl',
  'clientAuthMethod',
] as const satisfies ReadonlyArray<keyof ConnectionSpec>;

const CLIENT_AUTH_METHODS = ['client_secret_post', 'client_secret_basic', 'none'];

/**
 * What connect was given has the shape of a spec and its options, checked before anything
 * is read or sent: a wrong type would otherwise fail as a TypeError, or after the provider
 * has been asked. Values (a known provider, the grant's fields) are checked by grantOf.
 */
export function checkConnectArguments(spec: unknown, options: unknown, providers: string[]): void {
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
    throw new ConfigError(
      `connect(name, spec) needs a spec object such as { provider: '${providers[0]}', … } (providers: ${providers.join(', ')}); got ${kindOf(spec)}.`,
    );
  }
  const given = spec as Record<string, unknown>;
  refuseUnknownKeys(given, SPEC_FIELDS, { owner: 'A connection spec', key: 'field' });
  if (typeof given.provider !== 'string' || given.provider === '') {
    throw new ConfigError(`The spec needs provider: one of ${providers.join(', ')}.`);
  }
  for (const field of TEXT_FIELDS) {
    const value = given[field];
    if (value !== undefined && value !== null && typeof value !== 'string') {
      throw new ConfigError(`The spec's ${field} must be a string, got ${kindOf(value)}.`);
    }
  }
  if (typeof given.clientAuthMethod === 'string' && !CLIENT_AUTH_METHODS.includes(given.clientAuthMethod)) {
    throw new ConfigError(
      `The spec's clientAuthMethod must be one of ${CLIENT_AUTH_METHODS.join(', ')}, got ${JSON.stringify(given.clientAuthMethod)}.`,
    );
  }
  const code = given.authorizationCode;
  if (code !== undefined && code !== null) {
    const result = code as Record<string, unknown>;
    if (
      typeof code !== 'object' ||
      typeof result.code !== 'string' ||
      typeof result.redirectUri !== 'string' ||
      (result.codeVerifier !== undefined && typeof result.codeVerifier !== 'string')
    ) {
      throw new ConfigError(
        "The spec's authorizationCode must be { code, redirectUri, codeVerifier? } as strings (see readAuthorizationResponse).",
      );
    }
  }
  if (options === undefined) return;
  if (options === null || typeof options !== 'object') {
    throw new ConfigError(`connect's third argument must be an options object, got ${kindOf(options)}.`);
  }
  refuseUnknownKeys(options, CONNECT_OPTIONS, { owner: 'connect', key: 'option' });
  const { authorize, reuseSaved } = options as Record<string, unknown>;
  if (authorize !== undefined && typeof authorize !== 'function') {
    throw new ConfigError(`connect's authorize option must be a function, got ${kindOf(authorize)}.`);
  }
  if (reuseSaved !== undefined && typeof reuseSaved !== 'boolean') {
    throw new ConfigError(`connect's reuseSaved option must be true or false, got ${kindOf(reuseSaved)}.`);
  }
}

/** The grant the spec asks for, checked against what the provider and the spec allow. */
export function grantOf(name: string, spec: ConnectionSpec, profile: ProviderProfile): GrantType {
  const grant = spec.grant ?? profile.defaultGrant;
  if (!profile.grants.includes(grant)) {
    throw new ConfigError(
      `${profile.displayName} does not support the ${grant} grant; use ${profile.grants.join(' or ')}.`,
    );
  }
  // A client secret is optional for a grant only while the client may go without one: a
  // profile (or spec) that authenticates the client with its secret needs it, and saying so
  // here beats a refusal from the token endpoint.
  const clientAuth =
    spec.clientAuthMethod ?? (profile.endpointsFromConnection ? undefined : profile.clientAuthMethod);
  const secretNeeded = clientAuth !== undefined && clientAuth !== 'none';
  const missing = grantStrategy(grant)
    .fields.filter(
      ({ field, required }) => (required || (field === 'clientSecret' && secretNeeded)) && !spec[field],
    )
    .map(({ field }) => field);
  if (missing.length > 0) {
    const why = missing.includes('clientSecret')
      ? ` (${profile.displayName} authenticates the client with ${clientAuth})`
      : '';
    throw new ConfigError(`The ${grant} grant needs ${missing.join(', ')} for connection "${name}"${why}.`);
  }
  return grant;
}

export function buildConnectionRecord(
  name: string,
  spec: ConnectionSpec,
  profile: ProviderProfile,
  endpoints: ResolvedEndpoints,
  now: number,
): ConnectionRecord {
  const grant = grantOf(name, spec, profile);
  const { pkce: _pkce, clientAuthMethod, ...urls } = endpoints;
  const environment =
    spec.baseUrl || profile.endpointsFromConnection
      ? undefined
      : (spec.environment ?? profile.defaultEnvironment);
  return {
    name,
    provider: profile.id,
    ...(environment ? { environment } : {}),
    ...urls,
    grant,
    ...(spec.scope ? { scope: spec.scope } : {}),
    ...(spec.clientId ? { clientId: spec.clientId } : {}),
    ...(spec.authorizationCode ? { redirectUri: spec.authorizationCode.redirectUri } : {}),
    clientAuthMethod,
    state: 'ok',
    createdAt: now,
    generation: randomUUID(),
    secrets: {
      ...(spec.clientSecret ? { clientSecret: spec.clientSecret } : {}),
      ...(spec.username ? { username: spec.username } : {}),
      ...(spec.password ? { password: spec.password } : {}),
    },
  };
}

/**
 * A new login of a saved connection: what `spec` leaves out comes from `saved`, when both
 * are of the same provider and grant. A saved secret is reused only with what it belongs
 * to: the client secret with the same client id, the password with the same user name.
 */
export function withSavedSpec(
  spec: ConnectionSpec,
  saved: ConnectionRecord,
  profile: ProviderProfile,
): ConnectionSpec {
  if (saved.provider !== spec.provider || (spec.grant ?? profile.defaultGrant) !== saved.grant) return spec;
  const { secrets } = saved;
  const clientId = spec.clientId ?? saved.clientId;
  const username = spec.username ?? secrets.username;
  const where: ConnectionSpec = { provider: spec.provider };
  const choosesEndpoints = Boolean(spec.environment || spec.baseUrl || spec.issuer || spec.tokenUrl);
  if (!choosesEndpoints) {
    if (!profile.endpointsFromConnection) {
      if (saved.environment) where.environment = saved.environment;
      else where.baseUrl = saved.baseUrl;
    } else if (saved.issuer) {
      // Discovered endpoints are found again from the issuer, not pinned to the old answer.
      where.issuer = saved.issuer;
      where.apiBaseUrl = saved.baseUrl;
    } else {
      where.tokenUrl = saved.tokenUrl;
      where.authorizationUrl = saved.authorizationUrl;
      where.revocationUrl = saved.revocationUrl;
      where.userinfoUrl = saved.userinfoUrl;
      where.apiBaseUrl = saved.baseUrl;
    }
    where.clientAuthMethod = saved.clientAuthMethod;
  }
  return {
    ...where,
    ...withoutUndefined(spec),
    grant: saved.grant,
    clientId,
    clientSecret: spec.clientSecret ?? (clientId === saved.clientId ? secrets.clientSecret : undefined),
    username,
    password: spec.password ?? (username === secrets.username ? secrets.password : undefined),
    scope: spec.scope ?? saved.scope,
  };
}

/**
 * A saved client secret or password goes back only to the token endpoint it was given for:
 * a new login that moves the connection elsewhere (another base URL, environment, issuer or
 * token URL) must give them again, or one mistyped URL would hand them to another host.
 */
export function checkSavedSecretsStay(
  name: string,
  given: ConnectionSpec,
  spec: ConnectionSpec,
  saved: ConnectionRecord,
  tokenUrl: string,
): void {
  const reused = [
    ...(given.clientSecret === undefined && spec.clientSecret !== undefined ? ['client secret'] : []),
    ...(given.password === undefined && spec.password !== undefined ? ['password'] : []),
  ];
  const from = new URL(saved.tokenUrl).origin;
  const to = new URL(tokenUrl).origin;
  if (reused.length === 0 || from === to) return;
  throw new ConfigError(
    `The saved ${reused.join(' and ')} of "${name}" ${reused.length > 1 ? 'were' : 'was'} given for ${from}; ` +
      `${reused.length > 1 ? 'they are' : 'it is'} not sent to ${to}. Give ${reused.length > 1 ? 'them' : 'it'} again to log in there.`,
  );
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
