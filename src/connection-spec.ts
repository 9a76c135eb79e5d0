/**
 * What a caller gives `connect` and how it becomes a connection record: checked
 * against the provider profile, with endpoints already resolved.
 */
import { randomUUID } from 'node:crypto';
import type { ConnectionRecord } from './connection.js';
import { ConfigError } from './errors.js';
import { type AuthorizationCodeResult, grantStrategy } from './grants/strategies.js';
import type { GrantType } from './grants/types.js';
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

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function validateName(name: string): void {
  if (!NAME_PATTERN.test(name)) {
    throw new ConfigError(
      `"${name}" is not a valid connection name: use 1-64 letters, digits, dots, dashes or underscores, starting with a letter or digit.`,
    );
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
  const missing = grantStrategy(grant)
    .fields.filter(({ field, required }) => required && !spec[field])
    .map(({ field }) => field);
  if (missing.length > 0) {
    throw new ConfigError(`The ${grant} grant needs ${missing.join(', ')} for connection "${name}".`);
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

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
