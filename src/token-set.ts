/**
 * An immutable set of tokens from one token-endpoint response, with its expiry
 * pinned to an absolute instant.
 *
 * Expiry is measured from when the token request STARTED, not from when the
 * response arrived: a slow response must never make us believe a token lives
 * longer than the server thinks. When `expires_in` is missing we look at the JWT
 * `exp` claim, then at a configured default, and only when the provider profile
 * says so on purpose does a token never expire.
 */

export interface TokenSetData {
  accessToken: string;
  /** As the server sent it, e.g. "Bearer". */
  tokenType: string;
  refreshToken?: string;
  scope?: string;
  /** Absolute expiry in ms since the epoch; null only when the token deliberately never expires. */
  expiresAt: number | null;
  /** When the request that produced these tokens started (ms since the epoch). */
  obtainedAt: number;
}

export interface TokenResponseFields {
  access_token: string;
  token_type: string;
  expires_in?: number;
  refresh_token?: string;
  scope?: string;
  /** Doorkeeper (Factorial) sends the issue time in unix seconds. */
  created_at?: unknown;
  [field: string]: unknown;
}

export interface FromTokenResponseOptions {
  /** When the token request started (ms since the epoch). */
  requestStartedAt: number;
  /** The tokens this response replaces: its refresh token is kept when the response has none. */
  previous?: TokenSetData;
  /** Lifetime to assume when neither `expires_in` nor a JWT `exp` says anything. */
  defaultLifetimeSeconds: number;
  /** The provider documents that tokens without `expires_in` never expire (e.g. company tokens). */
  missingExpiryMeansNever?: boolean;
}

/** The tokens of one token-endpoint response, with expiry pinned to an absolute instant. */
export class TokenSet implements TokenSetData {
  readonly accessToken: string;
  readonly tokenType: string;
  readonly refreshToken?: string;
  readonly scope?: string;
  readonly expiresAt: number | null;
  readonly obtainedAt: number;

  constructor(data: TokenSetData) {
    this.accessToken = data.accessToken;
    this.tokenType = data.tokenType;
    if (data.refreshToken) this.refreshToken = data.refreshToken;
    if (data.scope !== undefined) this.scope = data.scope;
    this.expiresAt = data.expiresAt;
    this.obtainedAt = data.obtainedAt;
  }

  static fromTokenResponse(response: TokenResponseFields, options: FromTokenResponseOptions): TokenSet {
    const refreshToken = nonEmpty(response.refresh_token) ?? options.previous?.refreshToken;
    const scope = response.scope ?? options.previous?.scope;
    return new TokenSet({
      accessToken: response.access_token,
      tokenType: normaliseTokenType(response.token_type),
      ...(refreshToken ? { refreshToken } : {}),
      ...(scope !== undefined ? { scope } : {}),
      expiresAt: computeExpiresAt(response, options),
      obtainedAt: options.requestStartedAt,
    });
  }

  /** Lifetime in ms as granted, or null for a token that never expires. */
  get lifetimeMs(): number | null {
    return this.expiresAt === null ? null : Math.max(0, this.expiresAt - this.obtainedAt);
  }

  isExpired(now: number): boolean {
    return this.expiresAt !== null && now >= this.expiresAt;
  }

  toJSON(): TokenSetData {
    return {
      accessToken: this.accessToken,
      tokenType: this.tokenType,
      ...(this.refreshToken ? { refreshToken: this.refreshToken } : {}),
      ...(this.scope !== undefined ? { scope: this.scope } : {}),
      expiresAt: this.expiresAt,
      obtainedAt: this.obtainedAt,
    };
  }

  /** Never print a token by accident (console.log, util.inspect, template strings). */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `TokenSet { tokenType: '${this.tokenType}', expiresAt: ${
      this.expiresAt === null ? 'never' : new Date(this.expiresAt).toISOString()
    }, refreshToken: ${this.refreshToken ? '[present]' : '[absent]'} }`;
  }

  toString(): string {
    return '[TokenSet]';
  }
}

function computeExpiresAt(response: TokenResponseFields, options: FromTokenResponseOptions): number | null {
  const { requestStartedAt } = options;
  if (typeof response.expires_in === 'number' && Number.isFinite(response.expires_in)) {
    // Doorkeeper's expires_in counts from created_at; a re-exchanged code can hand back a token
    // issued earlier. Take the earlier of our request start and the server's created_at, so
    // neither an old token nor a server clock ahead of ours makes the token look younger.
    const createdAtMs = typeof response.created_at === 'number' ? response.created_at * 1000 : undefined;
    const start =
      createdAtMs !== undefined && Number.isFinite(createdAtMs)
        ? Math.min(requestStartedAt, createdAtMs)
        : requestStartedAt;
    return toInstant(start + Math.max(0, response.expires_in) * 1000);
  }
  const fromJwt = expiryFromJwt(response.access_token, requestStartedAt);
  if (fromJwt !== undefined) return fromJwt;
  if (options.missingExpiryMeansNever) return null;
  return toInstant(requestStartedAt + options.defaultLifetimeSeconds * 1000);
}

/** The latest instant a Date can hold (ECMA-262 §21.4.1.22). */
const MAX_INSTANT_MS = 8.64e15;

/**
 * An absurd lifetime (`expires_in: 1e306`, a JWT `exp` of 1e300) is capped at the last
 * instant a Date can hold: it must not overflow to Infinity, which a store writes as null,
 * i.e. "never expires", nor to an instant that cannot be printed.
 */
function toInstant(ms: number): number {
  return Math.min(Math.max(ms, -MAX_INSTANT_MS), MAX_INSTANT_MS);
}

/**
 * Reads `exp` (and `iat`) from a JWT access token without verifying it: we are the
 * client, the signature is the resource server's business; we only want a hint
 * of when to refresh. With `iat`, the lifetime is applied from our own request
 * start so a skewed server clock does not shift the expiry; the earlier wins.
 */
export function expiryFromJwt(token: string, requestStartedAt: number): number | undefined {
  const payload = decodeJwtPayload(token);
  if (!payload || typeof payload.exp !== 'number' || !Number.isFinite(payload.exp)) return undefined;
  const absolute = payload.exp * 1000;
  if (typeof payload.iat === 'number' && Number.isFinite(payload.iat) && payload.exp >= payload.iat) {
    return toInstant(Math.min(absolute, requestStartedAt + (payload.exp - payload.iat) * 1000));
  }
  return toInstant(absolute);
}

/** The claims of a JWT, unverified: only for showing what a token says about itself. */
export function decodeJwtPayload(token: string): Record<string, unknown> | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts[1]) return undefined;
  try {
    const json: unknown = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    return json && typeof json === 'object' && !Array.isArray(json)
      ? (json as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value ? value : undefined;
}

function normaliseTokenType(tokenType: string): string {
  return tokenType.toLowerCase() === 'bearer' ? 'Bearer' : tokenType;
}
