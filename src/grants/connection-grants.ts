/**
 * Runs the grants of a stored connection: its primary grant (how it logs in
 * without a person, when it can) and the refresh-token grant.
 */
import type { ConnectionRecord } from '../connection.js';
import { ConfigError } from '../errors.js';
import { exchangeAuthorizationCode } from './authorization-code.js';
import { clientCredentialsGrant } from './client-credentials.js';
import { passwordGrant } from './password.js';
import { refreshTokenGrant } from './refresh-token.js';
import type { ClientConfig, GrantResult, TokenRequestContext } from './token-endpoint.js';

export class ConnectionGrants {
  constructor(private readonly contextFor: (record: ConnectionRecord) => TokenRequestContext) {}

  /** True when the connection can obtain new tokens without a person: it holds what its grant needs. */
  canRunUnattended(record: ConnectionRecord): boolean {
    switch (record.grant) {
      case 'password':
        return Boolean(record.secrets.username && record.secrets.password);
      case 'client_credentials':
        return Boolean(record.clientId);
      default:
        return false;
    }
  }

  primary(record: ConnectionRecord): Promise<GrantResult> {
    const ctx = this.contextFor(record);
    const config = clientConfigOf(record);
    switch (record.grant) {
      case 'password': {
        const { username, password } = record.secrets;
        if (!username || !password) {
          throw new ConfigError(`Connection "${record.name}" has no saved user name and password.`);
        }
        return passwordGrant(config, { username, password }, ctx, record.scope);
      }
      case 'client_credentials':
        return clientCredentialsGrant(config, ctx, record.scope);
      default:
        throw new ConfigError(
          `Connection "${record.name}" uses the ${record.grant} grant, which needs a person; run \`${ctx.loginHint}\`.`,
        );
    }
  }

  /** The authorization code grant's exchange, once, at login. */
  exchangeCode(
    record: ConnectionRecord,
    grant: { code: string; redirectUri: string; codeVerifier?: string },
  ): Promise<GrantResult> {
    return exchangeAuthorizationCode(clientConfigOf(record), grant, this.contextFor(record));
  }

  refresh(record: ConnectionRecord, refreshToken: string): Promise<GrantResult> {
    return refreshTokenGrant(clientConfigOf(record), refreshToken, this.contextFor(record));
  }
}

export function clientConfigOf(record: ConnectionRecord): ClientConfig {
  if (!record.clientId) {
    throw new ConfigError(
      `Connection "${record.name}" has no client id; run \`tokenkeeper login ${record.name}\`.`,
    );
  }
  return {
    tokenUrl: record.tokenUrl,
    clientId: record.clientId,
    ...(record.secrets.clientSecret ? { clientSecret: record.secrets.clientSecret } : {}),
    clientAuthMethod: record.clientAuthMethod,
    ...(record.issuer ? { issuer: record.issuer } : {}),
  };
}
