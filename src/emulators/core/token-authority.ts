/**
 * The emulators' authorization server state: registered clients and users, issued
 * access and refresh tokens, refresh-token families, rotation and revocation. It knows
 * nothing about HTTP; token formats (JWT, opaque hex) are options so each provider
 * issues tokens that look like the real ones.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * What a successful refresh does to the refresh token it consumed:
 * - `strict`: revoked at once, any reuse fails;
 * - `grace`: still usable for `graceSeconds` after the first rotation (each use returns a new pair);
 * - `off`: no rotation, the response carries no new refresh token and the old one stays valid;
 * - `on-first-use`: Doorkeeper's `refresh_token_revoked_on_use`: the old refresh token (and
 *   the access token issued with it) stay valid until the NEW access token is first used on
 *   the API, then die; until then the old refresh token can be exchanged again.
 */
export type RotationMode = 'strict' | 'grace' | 'off' | 'on-first-use';

/** Every {@link RotationMode}, to check a setting or list the choices (the CLI's `--rotation`). */
export const ROTATION_MODES: readonly RotationMode[] = ['strict', 'grace', 'off', 'on-first-use'];

export interface ClientRecord {
  readonly id: string;
  readonly secret: string;
}

export interface UserRecord {
  readonly id: string;
  readonly username: string;
  readonly password: string;
}

export interface AccessTokenRecord {
  /** The token id (a JWT's `jti`). */
  readonly id: string;
  readonly token: string;
  readonly clientId: string;
  readonly userId: string;
  readonly scopes: readonly string[];
  readonly familyId: string;
  readonly issuedAtMs: number;
  /** `Infinity` for a token that never expires. */
  readonly expiresAtMs: number;
  revoked: boolean;
  /** `on-first-use` rotation: the refresh token this one was issued from, revoked when this one is first used. */
  previousRefreshToken?: string;
}

export interface RefreshTokenRecord {
  readonly id: string;
  readonly token: string;
  readonly clientId: string;
  readonly userId: string;
  readonly scopes: readonly string[];
  readonly familyId: string;
  readonly issuedAtMs: number;
  readonly expiresAtMs: number;
  /** The access token most recently issued with (or from) this refresh token. */
  accessTokenId: string;
  /** The access tokens this refresh token issues never expire (see {@link IssueTokenOptions}). */
  readonly accessTokensNeverExpire?: boolean;
  revoked: boolean;
  /** When a refresh first rotated this token away (grace mode measures from here). */
  rotatedAtMs?: number;
}

export interface IssuedTokens {
  accessToken: AccessTokenRecord;
  /** Absent when rotation is `off` and the grant was a refresh. */
  refreshToken?: RefreshTokenRecord;
  /** Absent when the access token never expires. */
  expiresInSeconds?: number;
}

/** Per-call choices of {@link TokenAuthority.issueTokens}: a company token that never expires, as Doorkeeper issues them. */
export interface IssueTokenOptions {
  /**
   * The access token never expires, nor do the ones refreshes issue from this family
   * (Doorkeeper issues company tokens without `expires_in`).
   */
  accessTokenNeverExpires?: boolean;
}

/** Everything an access token format may put in the token. */
export interface AccessTokenDraft {
  id: string;
  clientId: string;
  userId: string;
  scopes: readonly string[];
  issuedAtMs: number;
  /** `Infinity` for a token that never expires. */
  expiresAtMs: number;
}

/** Lifetimes, rotation and token formats: what makes one authority behave like a given provider. */
export interface TokenAuthorityOptions {
  accessTtlSeconds: number;
  refreshTtlSeconds: number;
  rotation?: RotationMode;
  graceSeconds?: number;
  /** Revoke the access token paired with a refresh token when it is used. Default: every mode but `grace` and `on-first-use` (league and Doorkeeper alike). */
  revokeAccessTokenOnRefresh?: boolean;
  /** What a rotated-away refresh token presented again does: only fail (default), or also revoke its whole family. */
  onRefreshTokenReuse?: 'reject' | 'revoke-family';
  now?: () => number;
  /** Default: 64 random hex characters. */
  formatAccessToken?: (draft: AccessTokenDraft) => string;
  /** Default: 64 random hex characters. */
  formatRefreshToken?: () => string;
  /** Default: 80 random hex characters (what league uses for `jti`). */
  newTokenId?: () => string;
}

export type RefreshTokenFailure = 'unknown' | 'wrong_client' | 'expired' | 'revoked';
export type AccessTokenFailure = 'unknown' | 'expired' | 'revoked';

export type RefreshOutcome =
  | { ok: true; tokens: IssuedTokens }
  | { ok: false; reason: RefreshTokenFailure }
  /** A scope the refresh token was not granted (RFC 6749 §6): the token itself stays usable. */
  | { ok: false; reason: 'invalid_scope'; scope: string };
export type AccessTokenCheck =
  | { ok: true; record: AccessTokenRecord }
  | { ok: false; reason: AccessTokenFailure };

/** Expired and revoked records are forgotten this long after they stop mattering. */
const RETENTION_MS = 24 * 60 * 60 * 1000;
const PRUNE_EVERY_ISSUES = 500;

export function randomHex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

/** Constant-time string comparison (hashing first makes the lengths equal). */
export function safeEqual(a: string, b: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
  return timingSafeEqual(digest(a), digest(b));
}

/**
 * The authorization server's state for one emulator (clients, users, issued tokens, rotation,
 * revocation), kept apart from HTTP so grants and the API guard share one source of truth.
 */
export class TokenAuthority {
  readonly accessTtlSeconds: number;
  readonly refreshTtlSeconds: number;
  readonly rotation: RotationMode;
  readonly graceSeconds: number;
  readonly #revokeAccessTokenOnRefresh: boolean;
  readonly #onReuse: 'reject' | 'revoke-family';
  readonly #now: () => number;
  readonly #formatAccessToken: (draft: AccessTokenDraft) => string;
  readonly #formatRefreshToken: () => string;
  readonly #newTokenId: () => string;

  readonly #clients = new Map<string, ClientRecord>();
  readonly #users = new Map<string, UserRecord>();
  readonly #accessByToken = new Map<string, AccessTokenRecord>();
  readonly #accessById = new Map<string, AccessTokenRecord>();
  readonly #refreshByToken = new Map<string, RefreshTokenRecord>();
  readonly #revokedFamilies = new Set<string>();
  #issuesSincePrune = 0;

  constructor(options: TokenAuthorityOptions) {
    this.accessTtlSeconds = options.accessTtlSeconds;
    this.refreshTtlSeconds = options.refreshTtlSeconds;
    this.rotation = options.rotation ?? 'strict';
    this.graceSeconds = options.graceSeconds ?? 30;
    // The old access token lives on in `grace` (until it expires) and `on-first-use` (until the new one is used).
    this.#revokeAccessTokenOnRefresh =
      options.revokeAccessTokenOnRefresh ?? (this.rotation !== 'grace' && this.rotation !== 'on-first-use');
    this.#onReuse = options.onRefreshTokenReuse ?? 'reject';
    this.#now = options.now ?? Date.now;
    this.#formatAccessToken = options.formatAccessToken ?? (() => randomHex(32));
    this.#formatRefreshToken = options.formatRefreshToken ?? (() => randomHex(32));
    this.#newTokenId = options.newTokenId ?? (() => randomHex(40));
  }

  now(): number {
    return this.#now();
  }

  addClient(client: ClientRecord): void {
    this.#clients.set(client.id, { ...client });
  }

  addUser(user: UserRecord): void {
    this.#users.set(user.username, { ...user });
  }

  /** The client when the id exists and the secret matches. */
  authenticateClient(clientId: string, clientSecret: string): ClientRecord | undefined {
    const client = this.#clients.get(clientId);
    return client && safeEqual(client.secret, clientSecret) ? client : undefined;
  }

  /** The user when the username exists and the password matches. */
  authenticateUser(username: string, password: string): UserRecord | undefined {
    const user = this.#users.get(username);
    return user && safeEqual(user.password, password) ? user : undefined;
  }

  /** A new access + refresh token pair starting a new refresh-token family. */
  issueTokens(
    clientId: string,
    userId: string,
    scopes: readonly string[] = [],
    options: IssueTokenOptions = {},
  ): IssuedTokens {
    const familyId = randomHex(16);
    const neverExpires = options.accessTokenNeverExpires === true;
    const accessToken = this.#issueAccessToken(clientId, userId, scopes, familyId, neverExpires);
    const refreshToken = this.#issueRefreshToken(accessToken);
    return { accessToken, refreshToken, ...this.#expiresIn(accessToken) };
  }

  /** Exchanges a refresh token according to the rotation mode. */
  /**
   * `requestedScopes` is the refresh request's `scope`: at most the scopes originally granted
   * (the new access token gets only those), as league and Doorkeeper check once the token
   * itself is known good. Omitted, the new token keeps every scope.
   */
  refresh(clientId: string, token: string, requestedScopes?: readonly string[]): RefreshOutcome {
    const record = this.#refreshByToken.get(token);
    if (!record) return { ok: false, reason: 'unknown' };
    if (record.clientId !== clientId) return { ok: false, reason: 'wrong_client' };
    const now = this.#now();
    if (now >= record.expiresAtMs) return { ok: false, reason: 'expired' };
    if (!this.#refreshTokenUsable(record, now)) {
      if (this.#onReuse === 'revoke-family' && record.rotatedAtMs !== undefined) {
        this.revokeFamily(record.familyId);
      }
      return { ok: false, reason: 'revoked' };
    }
    const notGranted = requestedScopes?.find((scope) => !record.scopes.includes(scope));
    if (notGranted !== undefined) return { ok: false, reason: 'invalid_scope', scope: notGranted };
    const scopes =
      requestedScopes !== undefined && requestedScopes.length > 0 ? requestedScopes : record.scopes;

    if (this.#revokeAccessTokenOnRefresh) {
      const previous = this.#accessById.get(record.accessTokenId);
      if (previous) previous.revoked = true;
    }
    const accessToken = this.#issueAccessToken(
      record.clientId,
      record.userId,
      scopes,
      record.familyId,
      record.accessTokensNeverExpire === true,
    );
    if (this.rotation === 'off') {
      record.accessTokenId = accessToken.id;
      return { ok: true, tokens: { accessToken, ...this.#expiresIn(accessToken) } };
    }
    if (this.rotation === 'on-first-use') {
      // Doorkeeper leaves the old row alone here; the first use of the new access token revokes it.
      accessToken.previousRefreshToken = record.token;
      return {
        ok: true,
        tokens: {
          accessToken,
          refreshToken: this.#issueRefreshToken(accessToken),
          ...this.#expiresIn(accessToken),
        },
      };
    }
    record.rotatedAtMs ??= now;
    if (this.rotation === 'strict') record.revoked = true;
    const refreshToken = this.#issueRefreshToken(accessToken);
    return { ok: true, tokens: { accessToken, refreshToken, ...this.#expiresIn(accessToken) } };
  }

  /** Whether an access token may be used now. */
  verifyAccessToken(token: string): AccessTokenCheck {
    const record = this.#accessByToken.get(token);
    if (!record) return { ok: false, reason: 'unknown' };
    if (record.revoked || this.#revokedFamilies.has(record.familyId)) return { ok: false, reason: 'revoked' };
    if (this.#now() >= record.expiresAtMs) return { ok: false, reason: 'expired' };
    return { ok: true, record };
  }

  /**
   * An access token was accepted by the API. Under `on-first-use` rotation this revokes the
   * refresh token it was issued from, with that token's access token (one row in Doorkeeper's
   * `oauth_access_tokens`, so both go together), and forgets the link so it happens once.
   */
  markUsed(record: AccessTokenRecord): void {
    const previous = record.previousRefreshToken;
    if (previous === undefined) return;
    record.previousRefreshToken = undefined;
    this.revokeRefreshToken(previous);
  }

  /**
   * Revokes every access and refresh token issued to a client: what Factorial does when an
   * app's registered scopes change. Returns how many tokens were still valid.
   */
  revokeClientTokens(clientId: string): number {
    let revoked = 0;
    for (const record of [...this.#accessByToken.values(), ...this.#refreshByToken.values()]) {
      if (record.clientId !== clientId || record.revoked) continue;
      record.revoked = true;
      revoked += 1;
    }
    return revoked;
  }

  /** The record of an access token this authority issued (revoked and expired ones included). */
  findAccessToken(token: string): Readonly<AccessTokenRecord> | undefined {
    return this.#accessByToken.get(token);
  }

  /** The record of a refresh token this authority issued (revoked and expired ones included). */
  findRefreshToken(token: string): Readonly<RefreshTokenRecord> | undefined {
    return this.#refreshByToken.get(token);
  }

  /**
   * Revokes an access token; with `withRefreshToken`, also the refresh token issued alongside
   * it (Doorkeeper keeps both in one row, so revoking one revokes the other).
   */
  revokeAccessToken(token: string, options: { withRefreshToken?: boolean } = {}): boolean {
    const record = this.#accessByToken.get(token);
    if (!record) return false;
    record.revoked = true;
    if (options.withRefreshToken) {
      for (const refresh of this.#refreshByToken.values()) {
        if (refresh.accessTokenId === record.id) refresh.revoked = true;
      }
    }
    return true;
  }

  /** Revokes a refresh token and the access token paired with it (RFC 7009 style). */
  revokeRefreshToken(token: string): boolean {
    const record = this.#refreshByToken.get(token);
    if (!record) return false;
    record.revoked = true;
    const access = this.#accessById.get(record.accessTokenId);
    if (access) access.revoked = true;
    return true;
  }

  /** Revokes every token descended from one password (or code) grant. */
  revokeFamily(familyId: string): void {
    this.#revokedFamilies.add(familyId);
  }

  #refreshTokenUsable(record: RefreshTokenRecord, now: number): boolean {
    if (record.revoked || this.#revokedFamilies.has(record.familyId)) return false;
    if (record.rotatedAtMs === undefined) return true;
    return this.rotation === 'grace' && now < record.rotatedAtMs + this.graceSeconds * 1000;
  }

  #expiresIn(accessToken: AccessTokenRecord): { expiresInSeconds?: number } {
    return Number.isFinite(accessToken.expiresAtMs) ? { expiresInSeconds: this.accessTtlSeconds } : {};
  }

  #issueAccessToken(
    clientId: string,
    userId: string,
    scopes: readonly string[],
    familyId: string,
    neverExpires = false,
  ): AccessTokenRecord {
    this.#maybePrune();
    const issuedAtMs = this.#now();
    const draft: AccessTokenDraft = {
      id: this.#newTokenId(),
      clientId,
      userId,
      scopes: [...scopes],
      issuedAtMs,
      expiresAtMs: neverExpires ? Number.POSITIVE_INFINITY : issuedAtMs + this.accessTtlSeconds * 1000,
    };
    const record: AccessTokenRecord = {
      ...draft,
      token: this.#formatAccessToken(draft),
      familyId,
      revoked: false,
    };
    this.#accessByToken.set(record.token, record);
    this.#accessById.set(record.id, record);
    return record;
  }

  #issueRefreshToken(accessToken: AccessTokenRecord): RefreshTokenRecord {
    const issuedAtMs = this.#now();
    const record: RefreshTokenRecord = {
      id: this.#newTokenId(),
      token: this.#formatRefreshToken(),
      clientId: accessToken.clientId,
      userId: accessToken.userId,
      scopes: accessToken.scopes,
      familyId: accessToken.familyId,
      issuedAtMs,
      expiresAtMs: issuedAtMs + this.refreshTtlSeconds * 1000,
      accessTokenId: accessToken.id,
      revoked: false,
      ...(Number.isFinite(accessToken.expiresAtMs) ? {} : { accessTokensNeverExpire: true }),
    };
    this.#refreshByToken.set(record.token, record);
    return record;
  }

  #maybePrune(): void {
    this.#issuesSincePrune += 1;
    if (this.#issuesSincePrune < PRUNE_EVERY_ISSUES) return;
    this.#issuesSincePrune = 0;
    const horizon = this.#now() - RETENTION_MS;
    for (const [token, record] of this.#accessByToken) {
      if (record.expiresAtMs < horizon) {
        this.#accessByToken.delete(token);
        this.#accessById.delete(record.id);
      }
    }
    for (const [token, record] of this.#refreshByToken) {
      const rotatedAway = record.rotatedAtMs !== undefined && record.rotatedAtMs < horizon;
      if (record.expiresAtMs < horizon || rotatedAway) this.#refreshByToken.delete(token);
    }
  }
}
