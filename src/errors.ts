/**
 * One error class with a stable string `code`; subclasses only narrow the code.
 * Messages always say what to do next and never hold a secret. The raw HTTP
 * Response, when there is one, is kept non-enumerable so that logging the error
 * (or JSON.stringify) can never dump a body or header that carries a token.
 */

export type ErrorCode =
  | 'CONFIG'
  | 'USAGE'
  | 'STORE'
  | 'STORE_KEY'
  /**
   * The stored settings of a connection cannot be trusted: the clear ones no longer match the
   * sealed ones, or a URL fails the checks a new login makes. Nothing is sent.
   */
  | 'STORE_TAMPERED'
  | 'LOCK_TIMEOUT'
  | 'NOT_FOUND'
  | 'REAUTH_REQUIRED'
  | 'TOKEN_ENDPOINT'
  | 'TOKEN_RESPONSE'
  | 'RATE_LIMITED'
  | 'NETWORK'
  | 'AUTHORIZATION'
  | 'HTTP';

const ERROR_CODES: ReadonlySet<string> = new Set(
  Object.keys({
    CONFIG: true,
    USAGE: true,
    STORE: true,
    STORE_KEY: true,
    STORE_TAMPERED: true,
    LOCK_TIMEOUT: true,
    NOT_FOUND: true,
    REAUTH_REQUIRED: true,
    TOKEN_ENDPOINT: true,
    TOKEN_RESPONSE: true,
    RATE_LIMITED: true,
    NETWORK: true,
    AUTHORIZATION: true,
    HTTP: true,
  } satisfies Record<ErrorCode, true>),
);

/** Whether `value` is one of the error codes: what a store's clear copy holds is not trusted to be. */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && ERROR_CODES.has(value);
}

export interface TokenkeeperErrorOptions {
  cause?: unknown;
  /** OAuth `error` field from a token or authorization endpoint. */
  error?: string;
  /** OAuth `error_description`, printable, with any secret the request sent replaced by `[redacted]`. */
  errorDescription?: string;
  /** HTTP status of the response that caused this error. */
  status?: number;
  /** The connection the error is about. */
  connection?: string;
  response?: Response;
}

/** The one error class: a stable `code`, OAuth fields copied on, the raw Response non-enumerable. */
export class TokenkeeperError extends Error {
  readonly code: ErrorCode;
  readonly error?: string;
  readonly error_description?: string;
  readonly status?: number;
  readonly connection?: string;
  declare readonly response?: Response;

  constructor(code: ErrorCode, message: string, options: TokenkeeperErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    if (options.error !== undefined) this.error = options.error;
    if (options.errorDescription !== undefined) this.error_description = options.errorDescription;
    if (options.status !== undefined) this.status = options.status;
    if (options.connection !== undefined) this.connection = options.connection;
    if (options.response !== undefined) {
      Object.defineProperty(this, 'response', { value: options.response, enumerable: false });
    }
  }
}

/** Bad configuration or input: a flag, an environment variable, a provider profile. */
export class ConfigError extends TokenkeeperError {
  constructor(message: string, options?: TokenkeeperErrorOptions) {
    super('CONFIG', message, options);
  }
}

/**
 * The keeper was closed: a call made after close(), or a request to the authorization server
 * that was still waiting when close()'s grace ran out and was given up.
 */
export class KeeperClosedError extends ConfigError {}

/** The connection can no longer refresh by itself: a person has to log in again. */
export class ReauthRequiredError extends TokenkeeperError {
  constructor(connection: string, reason: string, options?: TokenkeeperErrorOptions) {
    super(
      'REAUTH_REQUIRED',
      `Connection "${connection}" needs a new login: ${reason}. Run \`tokenkeeper login ${connection}\` again.`,
      { ...options, connection },
    );
  }
}

/** The store could not be read or written; the message says what was kept and what to run. */
export class StoreError extends TokenkeeperError {
  /**
   * What kind of failure, when the store knows: `unreachable`, its server could not be reached
   * or did not answer (trying again later may work); `unusable`, the store cannot be used as it
   * is given (a damaged file, a wrong password, a missing database, no permission).
   */
  readonly kind?: 'unreachable' | 'unusable';

  constructor(
    message: string,
    options?: TokenkeeperErrorOptions & { kind?: 'unreachable' | 'unusable' | undefined },
  ) {
    super('STORE', message, options);
    if (options?.kind) this.kind = options.kind;
  }
}

/** Another process held the refresh lock for longer than `lockWaitMs`. */
export class LockTimeoutError extends TokenkeeperError {
  constructor(connection: string, waitedMs: number) {
    super(
      'LOCK_TIMEOUT',
      `Gave up after ${waitedMs} ms waiting for another process to finish refreshing "${connection}". ` +
        'If no other tokenkeeper process is running, the lock expires by itself; try again in a minute.',
      { connection },
    );
  }
}

/**
 * True for errors thrown by tokenkeeper.
 *
 * @example
 * try { await keeper.getAccessToken('acme'); }
 * catch (error) { if (isTokenkeeperError(error) && error.code === 'REAUTH_REQUIRED') alert(error.message); }
 */
export function isTokenkeeperError(value: unknown): value is TokenkeeperError {
  return value instanceof TokenkeeperError;
}
