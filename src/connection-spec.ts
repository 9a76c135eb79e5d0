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
