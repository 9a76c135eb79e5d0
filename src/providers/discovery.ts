/**
 * Authorization server metadata: OpenID Connect discovery first, then RFC 8414,
 * both through oauth4webapi (which checks that the issuer matches).
 */
import * as oauth from 'oauth4webapi';
import { ConfigError, TokenkeeperError } from '../errors.js';
import { bufferResponse } from '../http/bounded-body.js';
import { providerText } from '../http/provider-text.js';
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
  ctx: { fetch: typeof fetch; timeoutMs: number },
): Promise<DiscoveredServer> {
  const issuerUrl = validateServiceUrl(issuer.replace(/\/+$/, '') || issuer, 'issuer');
  let lastError: unknown;
  for (const algorithm of ['oidc', 'oauth2'] as const) {
    try {
      const response = await oauth.discoveryRequest(issuerUrl, {
        algorithm,
        signal: AbortSignal.timeout(ctx.timeoutMs),
        [oauth.allowInsecureRequests]: isLoopbackUrl(issuerUrl),
        [oauth.customFetch]: async (url: string, init: RequestInit) =>
          bufferResponse(await ctx.fetch(url, init), MAX_METADATA_BYTES),
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
      lastError = error;
    }
  }
  const reason = providerText(lastError instanceof Error ? lastError.message : String(lastError));
  throw new ConfigError(
    `Could not discover the authorization server at ${issuer} (tried /.well-known/openid-configuration and ` +
      `/.well-known/oauth-authorization-server: ${reason}). Check --issuer, or give --token-url and --authorize-url.`,
  );
}
