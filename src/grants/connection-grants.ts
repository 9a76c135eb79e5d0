/**
 * Runs the grants of a stored connection: its primary grant (how it logs in
 * without a person, when it can) and the refresh-token grant.
 *
 * The grant modules (and oauth4webapi behind them) are loaded on first use: a
 * process that only reads fresh tokens from the store, such as
 * `tokenkeeper token`, never pays for them.
 */
import type { ConnectionRecord } from '../connection.js';
import { ConfigError } from '../errors.js';
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

  async primary(record: ConnectionRecord): Promise<GrantResult> {
    const ctx = this.contextFor(record);
    const config = clientConfigOf(record);
    switch (record.grant) {
      case 'password': {
        const { username, password } = record.secrets;
        if (!username || !password) {
          throw new ConfigError(`Connection "${record.name}" has no saved user name and password.`);
        }
        const { passwordGrant } = await import('./password.js');
        return passwordGrant(config, { username, password }, ctx, record.scope);
      }
      case 'client_credentials': {
        const { clientCredentialsGrant } = await import('./client-credentials.js');
        return clientCredentialsGrant(config, ctx, record.scope);
      }
      default:
        throw new ConfigError(
          `Connection "${record.name}" uses the ${record.grant} grant, which needs a person; run \`${ctx.loginHint}\`.`,
        );
    }
  }

  /** The authorization code grant's exchange, once, at login. */
  async exchangeCode(
    record: ConnectionRecord,
    grant: { code: string; redirectUri: string; codeVerifier?: string },
  ): Promise<GrantResult> {
    const { exchangeAuthorizationCode } = await import('./authorization-code.js');
    return exchangeAuthorizationCode(clientConfigOf(record), grant, this.contextFor(record));
  }

  async refresh(record: ConnectionRecord, refreshToken: string): Promise<GrantResult> {
    const { refreshTokenGrant } = await import('./refresh-token.js');
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
