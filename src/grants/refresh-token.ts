import * as oauth from 'oauth4webapi';
import {
  type ClientConfig,
  type GrantResult,
  requestTokens,
  type TokenRequestContext,
} from './token-endpoint.js';

/** Refresh Token grant (RFC 6749 §6). */
export function refreshTokenGrant(
  config: ClientConfig,
  refreshToken: string,
  ctx: TokenRequestContext,
): Promise<GrantResult> {
  return requestTokens(
    config,
    ctx,
    [refreshToken],
    (as, client, auth, options) => oauth.refreshTokenGrantRequest(as, client, auth, refreshToken, options),
    oauth.processRefreshTokenResponse,
  );
}
