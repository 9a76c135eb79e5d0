/**
 * Authorization server metadata: OpenID Connect discovery first, then RFC 8414,
 * both through oauth4webapi (which checks that the issuer matches).
 */
import * as oauth from 'oauth4webapi';
import { ConfigError, TokenkeeperError } from '../errors.js';
import type { BufferedFetch } from '../http/buffered-request.js';
import { networkFailureOf } from '../http/network-errors.js';
import { isLoopbackUrl, validateServiceUrl } from '../http/urls.js';

export interface DiscoveredServer {
  issuer: string;
  tokenUrl: string;
  authorizationUrl?: string;
  revocationUrl?: string;
  userinfoUrl?: string;
  codeChallengeMethods?: string[];
  tokenEndpointAuthMethods?: string[];
}

const MAX_METADATA_BYTES = 256 * 1024;

export async function discoverAuthorizationServer(
  issuer: string,
  ctx: { authServerFetch: BufferedFetch; timeoutMs: number },
): Promise<DiscoveredServer> {
  const issuerUrl = validateServiceUrl(issuer.replace(/\/+$/, '') || issuer, 'issuer');
  for (const algorithm of ['oidc', 'oauth2'] as const) {
    try {
      const response = await oauth.discoveryRequest(issuerUrl, {
        algorithm,
        signal: AbortSignal.timeout(ctx.timeoutMs),
        [oauth.allowInsecureRequests]: isLoopbackUrl(issuerUrl),
        [oauth.customFetch]: (url: string, init: RequestInit) =>
          ctx.authServerFetch(url, init, MAX_METADATA_BYTES),
      });
      const as = await oauth.processDiscoveryResponse(issuerUrl, response);
      if (!as.token_endpoint) {
        throw new ConfigError(`The metadata of ${issuer} names no token endpoint; pass --token-url.`);
      }
      return {
        issuer: as.issuer,
        tokenUrl: as.token_endpoint,
        ...(as.authorization_endpoint ? { authorizationUrl: as.authorization_endpoint } : {}),
        ...(as.revocation_endpoint ? { revocationUrl: as.revocation_endpoint } : {}),
        ...(as.userinfo_endpoint ? { userinfoUrl: as.userinfo_endpoint } : {}),
        ...(as.code_challenge_methods_supported
          ? { codeChallengeMethods: as.code_challenge_methods_supported }
          : {}),
        ...(as.token_endpoint_auth_methods_supported
          ? { tokenEndpointAuthMethods: as.token_endpoint_auth_methods_supported }
          : {}),
      };
    } catch (error) {
      if (error instanceof TokenkeeperError) throw error;
      const failure = networkFailureOf(error);
      if (failure !== undefined) {
        const reason =
          failure.kind === 'timeout' ? 'no answer in time' : (failure.code ?? 'connection failed');
        throw new TokenkeeperError(
          'NETWORK',
          `Could not reach the issuer ${issuer} (${reason}). Check --issuer and your network.`,
        );
      }
    }
  }
  // oauth4webapi's wording ("not a conform Authorization Server Metadata response") means
  // nothing to a person: say what was asked for and what to do instead.
  throw new ConfigError(
    `${issuer} serves no usable authorization server metadata at /.well-known/openid-configuration ` +
      'or /.well-known/oauth-authorization-server. Check --issuer, or give --token-url and --authorize-url.',
  );
}
