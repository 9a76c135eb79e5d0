import * as oauth from 'oauth4webapi';
import {
  type ClientConfig,
  type GrantResult,
  requestTokens,
  type TokenRequestContext,
} from './token-endpoint.js';

/** Client Credentials grant (RFC 6749 §4.4): the application acts on its own behalf. */
export function clientCredentialsGrant(
  config: ClientConfig,
  ctx: TokenRequestContext,
  scope?: string,
): Promise<GrantResult> {
  return requestTokens(
    config,
    ctx,
    [],
    (as, client, auth, options) =>
      oauth.clientCredentialsGrantRequest(as, client, auth, scope ? { scope } : {}, options),
    oauth.processClientCredentialsResponse,
  );
}
