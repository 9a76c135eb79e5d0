import * as oauth from 'oauth4webapi';
import {
  authorizationServerFor,
  type ClientConfig,
  clientAuthFor,
  describeTokenEndpointFailure,
  redactionFor,
  type TokenRequestContext,
  withAuthServerOptions,
} from './token-endpoint.js';

/** Token revocation (RFC 7009). A token the server does not know counts as revoked (200 per the RFC). */
export async function revokeToken(
  config: ClientConfig,
  revocationUrl: string,
  token: string,
  hint: 'refresh_token' | 'access_token',
  ctx: TokenRequestContext,
): Promise<void> {
  const as = { ...authorizationServerFor(config), revocation_endpoint: revocationUrl };
  try {
    const response = await withAuthServerOptions(revocationUrl, ctx, (options) =>
      oauth.revocationRequest(as, { client_id: config.clientId }, clientAuthFor(config), token, {
        ...options,
        additionalParameters: { token_type_hint: hint },
      }),
    );
    await oauth.processRevocationResponse(response);
  } catch (error) {
    throw await describeTokenEndpointFailure(
      error,
      revocationUrl,
      ctx,
      redactionFor(config, [token]),
      'revocation',
    );
  }
}
