/**
 * Which token-endpoint failures are worth another try. One pure decision, so the
 * refresher, the session's back-off and the store's shared back-off agree.
 */
import { TokenkeeperError } from '../errors.js';

/** OAuth errors that no retry will fix: the grant or the client itself was refused. */
const TERMINAL_OAUTH_ERRORS = new Set(['invalid_grant', 'invalid_client', 'unauthorized_client']);

/** 5xx, 429, network errors and timeouts: the provider may answer next time. */
export function isTransient(error: unknown): error is TokenkeeperError {
  if (!(error instanceof TokenkeeperError)) return false;
  switch (error.code) {
    case 'NETWORK':
    case 'RATE_LIMITED':
      return true;
    case 'TOKEN_ENDPOINT':
    case 'TOKEN_RESPONSE':
      return error.status !== undefined && error.status >= 500;
    default:
      return false;
  }
}

export function isTerminalOAuthError(error: unknown, ...only: string[]): error is TokenkeeperError {
  if (!(error instanceof TokenkeeperError) || error.code !== 'TOKEN_ENDPOINT' || !error.error) return false;
  return only.length > 0 ? only.includes(error.error) : TERMINAL_OAUTH_ERRORS.has(error.error);
}
