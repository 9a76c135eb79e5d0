/**
 * `POST /oauth/revoke` (RFC 7009) as Doorkeeper's TokensController#revoke answers it:
 * the client authenticates like at the token endpoint; then `{}` with 200 for a token it
 * does not know, a missing token, or a token it revoked; 403 `unauthorized_client` for a
 * token issued to another client. `token_type_hint` is ignored (Doorkeeper looks the
 * token up as an access token, then as a refresh token), and since Doorkeeper keeps an
 * access token and its refresh token in one row, revoking either revokes both.
 */
import { parseFormBody } from '../core/body.js';
import type { ErrorStyle } from '../core/error-style.js';
import type { FaultInjector } from '../core/faults.js';
import { jsonResponse, type Router } from '../core/router.js';
import type { EmulatorStatsCounter } from '../core/stats.js';
import type { TokenAuthority } from '../core/token-authority.js';
import { authenticateClientRequest } from '../core/token-endpoint.js';
import { DOORKEEPER_MESSAGES } from './doorkeeper-error-style.js';

export const REVOKE_PATH = '/oauth/revoke';

export interface RevokeEndpointOptions {
  authority: TokenAuthority;
  errorStyle: ErrorStyle;
  stats: EmulatorStatsCounter;
  faults: FaultInjector;
}

const NO_STORE = { 'cache-control': 'no-store', 'content-type': 'application/json; charset=utf-8' };

export function registerRevokeRoute(router: Router, options: RevokeEndpointOptions): void {
  router.add('POST', REVOKE_PATH, (request) =>
    options.faults.around('revoke', request, async () => {
      const params = await parseFormBody(request);
      const { client, basicAuthUsed } = authenticateClientRequest(request, params, options.authority);
      if (!client) {
        const { error: _error, ...response } = options.errorStyle.tokenError({
          kind: 'invalid_client',
          basicAuthUsed,
        });
        return response;
      }

      const token = params.token;
      if (!token) return jsonResponse(200, {}, NO_STORE);
      const accessToken = options.authority.findAccessToken(token);
      const record = accessToken ?? options.authority.findRefreshToken(token);
      if (!record) return jsonResponse(200, {}, NO_STORE);
      if (record.clientId !== client.id) {
        return jsonResponse(
          403,
          { error: 'unauthorized_client', error_description: DOORKEEPER_MESSAGES.revoke_unauthorized },
          NO_STORE,
        );
      }
      if (accessToken) options.authority.revokeAccessToken(token, { withRefreshToken: true });
      else options.authority.revokeRefreshToken(token);
      options.stats.revocation();
      return jsonResponse(200, {}, NO_STORE);
    }),
  );
}
