import * as oauth from 'oauth4webapi';
import {
  type ClientConfig,
  type GrantResult,
  requestTokens,
  type TokenRequestContext,
} from './token-endpoint.js';

/** Resource Owner Password Credentials grant (RFC 6749 §4.3), as Factus uses it. */
export function passwordGrant(
  config: ClientConfig,
  credentials: { username: string; password: string },
  ctx: TokenRequestContext,
  scope?: string,
): Promise<GrantResult> {
  const parameters: Record<string, string> = {
    username: credentials.username,
    password: credentials.password,
  };
  if (scope) parameters.scope = scope;
  return requestTokens(config, ctx, [credentials.password], (as, client, auth, options) =>
    oauth.genericTokenEndpointRequest(as, client, auth, 'password', parameters, options),
  );
}
