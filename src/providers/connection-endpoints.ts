/**
 * Everything a connection needs to know about where to send what: from a provider
 * profile and an environment, or (generic OAuth 2.0) from discovery and explicit URLs.
 */
import { ConfigError } from '../errors.js';
import type { BufferedFetch } from '../http/buffered-request.js';
import { validateServiceUrl } from '../http/urls.js';
import type { DiscoveredServer } from './discovery.js';
import { type ConnectionEndpoints, resolveEndpoints } from './endpoints.js';
import type { ClientAuthMethod, ProviderProfile } from './types.js';

/** Where a connection's endpoints come from (see ConnectionSpec for each field). */
export interface EndpointChoices {
  /** A named environment of the provider profile (e.g. sandbox, production). */
  environment?: string;
  /** Overrides the environment's base URL (emulators, proxies, new regions). */
  baseUrl?: string;
  /** Generic OAuth 2.0: discover the endpoints from this issuer (RFC 8414 / OpenID Connect). */
  issuer?: string;
  tokenUrl?: string;
  authorizationUrl?: string;
  revocationUrl?: string;
  /** Generic OAuth 2.0: the OpenID Connect userinfo endpoint, for whoami. */
  userinfoUrl?: string;
  /** Generic OAuth 2.0: where API paths resolve (default: the issuer's origin). */
  apiBaseUrl?: string;
  clientAuthMethod?: ClientAuthMethod;
}

export interface EndpointSpec extends EndpointChoices {
  /** Whether the client has a secret; decides between `none` and secret-based auth. */
  hasClientSecret?: boolean;
}

export interface ResolvedEndpoints extends ConnectionEndpoints {
  issuer?: string;
  userinfoUrl?: string;
  /** Send a PKCE S256 challenge with authorization requests. */
  pkce: boolean;
  clientAuthMethod: ClientAuthMethod;
}

export async function resolveConnectionEndpoints(
  profile: ProviderProfile,
  spec: EndpointSpec,
  ctx: { authServerFetch: BufferedFetch; timeoutMs: number },
): Promise<ResolvedEndpoints> {
  if (!profile.endpointsFromConnection) {
    const endpoints = resolveEndpoints(profile, {
      ...(spec.environment ? { environment: spec.environment } : {}),
      ...(spec.baseUrl ? { baseUrl: spec.baseUrl } : {}),
    });
    return {
      ...endpoints,
      pkce: profile.pkce,
      clientAuthMethod: spec.clientAuthMethod ?? profile.clientAuthMethod,
    };
  }

  if (!spec.issuer && !spec.tokenUrl) {
    throw new ConfigError('A generic OAuth 2.0 connection needs --issuer (for discovery) or --token-url.');
  }
  let discovered: DiscoveredServer | undefined;
  if (spec.issuer && !spec.tokenUrl) {
    const { discoverAuthorizationServer } = await import('./discovery.js');
    discovered = await discoverAuthorizationServer(spec.issuer, ctx);
  }
  const url = (value: string | undefined, what: string) =>
    value === undefined ? undefined : validateServiceUrl(value, what).href;
  const tokenUrl = url(spec.tokenUrl ?? discovered?.tokenUrl, 'token URL')!;
  const authorizationUrl = url(spec.authorizationUrl ?? discovered?.authorizationUrl, 'authorization URL');
  const revocationUrl = url(spec.revocationUrl ?? discovered?.revocationUrl, 'revocation URL');
  const userinfoUrl = url(spec.userinfoUrl ?? discovered?.userinfoUrl, 'userinfo URL');
  const issuer = discovered?.issuer ?? spec.issuer;
  // Checked even without discovery: every load checks it again, and must not refuse what connect saved.
  if (issuer !== undefined) validateServiceUrl(issuer, 'issuer');
  const apiBase = spec.apiBaseUrl ?? spec.baseUrl ?? new URL(issuer ?? tokenUrl).origin;
  const baseUrl = validateServiceUrl(apiBase, 'API base URL').href.replace(/\/+$/, '');
  return {
    baseUrl,
    tokenUrl,
    ...(authorizationUrl ? { authorizationUrl } : {}),
    ...(revocationUrl ? { revocationUrl } : {}),
    ...(issuer ? { issuer } : {}),
    ...(userinfoUrl ? { userinfoUrl } : {}),
    // RFC 8414: a server that lists no PKCE methods does not support PKCE; without metadata, send it.
    pkce: discovered ? (discovered.codeChallengeMethods?.includes('S256') ?? false) : profile.pkce,
    clientAuthMethod:
      spec.clientAuthMethod ??
      pickClientAuth(discovered?.tokenEndpointAuthMethods, spec.hasClientSecret ?? true),
  };
}

/** Basic is the RFC's default; post when the server only lists post; none for a client without secret. */
export function pickClientAuth(supported: string[] | undefined, hasSecret: boolean): ClientAuthMethod {
  if (!hasSecret) return 'none';
  if (!supported || supported.includes('client_secret_basic')) return 'client_secret_basic';
  if (supported.includes('client_secret_post')) return 'client_secret_post';
  return 'client_secret_basic';
}
