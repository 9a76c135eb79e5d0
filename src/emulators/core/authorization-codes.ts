/**
 * Authorization codes (RFC 6749 §4.1): issued at the authorization endpoint, bound to
 * the client and the redirect URI they were requested with, short-lived, and exchanged
 * once for tokens at the token endpoint. What a second exchange of the same code does is
 * a setting, because providers disagree.
 */
import { type IssuedTokens, randomHex, type TokenAuthority } from './token-authority.js';

/**
 * What exchanging an already exchanged code does:
 * - `invalid_grant`: fails (one token per code, RFC 6749);
 * - `same-token`: while the code has not expired and its token is still usable, answers
 *   with exactly the tokens of the first exchange.
 */
export type ReusedCodeMode = 'invalid_grant' | 'same-token';

/** Every {@link ReusedCodeMode}, to check a setting or list the choices (the CLI's `--reused-code`). */
export const REUSED_CODE_MODES: readonly ReusedCodeMode[] = ['invalid_grant', 'same-token'];

/** Why a code exchange was refused; the provider's ErrorStyle turns it into its own `invalid_grant` wording. */
export type AuthorizationCodeFailure =
  | 'unknown'
  | 'wrong_client'
  | 'expired'
  | 'used'
  | 'redirect_uri_mismatch';

export interface AuthorizationCodeRecord {
  readonly code: string;
  readonly clientId: string;
  readonly userId: string;
  readonly redirectUri: string;
  readonly scopes: readonly string[];
  /** The tokens issued for this code never expire (a company token). */
  readonly accessTokenNeverExpires: boolean;
  readonly issuedAtMs: number;
  readonly expiresAtMs: number;
  /** The tokens of the first exchange. */
  tokens?: IssuedTokens;
}

/** How long codes live, what a reused code gets and how redirect URIs match; Doorkeeper's behaviour by default. */
export interface AuthorizationCodeStoreOptions {
  /** Default 600 (10 minutes, what Doorkeeper uses). */
  ttlSeconds?: number;
  /** Default `invalid_grant`. */
  reusedCode?: ReusedCodeMode;
  now?: () => number;
  /** Default: 64 random hex characters. */
  formatCode?: () => string;
  /**
   * Whether the token request's `redirect_uri` matches the one the code was issued for.
   * Default: exactly equal (Doorkeeper applies its loopback any-port rule here too).
   */
  redirectUriMatches?: (requested: string, issuedFor: string) => boolean;
}

export interface NewAuthorizationCode {
  clientId: string;
  userId: string;
  redirectUri: string;
  scopes: readonly string[];
  accessTokenNeverExpires?: boolean;
}

export type CodeExchangeOutcome =
  | { ok: true; tokens: IssuedTokens }
  | { ok: false; reason: AuthorizationCodeFailure };

/** Codes are forgotten this long after they expire. */
const RETENTION_MS = 60 * 60 * 1000;
const PRUNE_EVERY_ISSUES = 200;

/**
 * The authorization codes of one emulator, between the authorize endpoint that issues them
 * and the `authorization_code` grant that exchanges them (`authorizationCodeGrant`).
 */
export class AuthorizationCodeStore {
  readonly ttlSeconds: number;
  readonly reusedCode: ReusedCodeMode;
  readonly #now: () => number;
  readonly #formatCode: () => string;
  readonly #redirectUriMatches: (requested: string, issuedFor: string) => boolean;
  readonly #codes = new Map<string, AuthorizationCodeRecord>();
  #issuesSincePrune = 0;

  constructor(options: AuthorizationCodeStoreOptions = {}) {
    this.ttlSeconds = options.ttlSeconds ?? 600;
    this.reusedCode = options.reusedCode ?? 'invalid_grant';
    this.#now = options.now ?? Date.now;
    this.#formatCode = options.formatCode ?? (() => randomHex(32));
    this.#redirectUriMatches =
      options.redirectUriMatches ?? ((requested, issuedFor) => requested === issuedFor);
  }

  issue(request: NewAuthorizationCode): AuthorizationCodeRecord {
    this.#maybePrune();
    const issuedAtMs = this.#now();
    const record: AuthorizationCodeRecord = {
      code: this.#formatCode(),
      clientId: request.clientId,
      userId: request.userId,
      redirectUri: request.redirectUri,
      scopes: [...request.scopes],
      accessTokenNeverExpires: request.accessTokenNeverExpires === true,
      issuedAtMs,
      expiresAtMs: issuedAtMs + this.ttlSeconds * 1000,
    };
    this.#codes.set(record.code, record);
    return record;
  }

  /**
   * Exchanges a code for tokens issued by `authority`. A failed attempt (wrong client,
   * wrong redirect URI) does not use the code up.
   */
  exchange(
    authority: TokenAuthority,
    request: { code: string; clientId: string; redirectUri: string },
  ): CodeExchangeOutcome {
    const record = this.#codes.get(request.code);
    if (!record) return { ok: false, reason: 'unknown' };
    if (record.clientId !== request.clientId) return { ok: false, reason: 'wrong_client' };
    if (this.#now() >= record.expiresAtMs) return { ok: false, reason: 'expired' };
    if (!this.#redirectUriMatches(request.redirectUri, record.redirectUri))
      return { ok: false, reason: 'redirect_uri_mismatch' };
    if (record.tokens) {
      const reusable =
        this.reusedCode === 'same-token' && authority.verifyAccessToken(record.tokens.accessToken.token).ok;
      return reusable ? { ok: true, tokens: record.tokens } : { ok: false, reason: 'used' };
    }
    record.tokens = authority.issueTokens(record.clientId, record.userId, record.scopes, {
      accessTokenNeverExpires: record.accessTokenNeverExpires,
    });
    return { ok: true, tokens: record.tokens };
  }

  #maybePrune(): void {
    this.#issuesSincePrune += 1;
    if (this.#issuesSincePrune < PRUNE_EVERY_ISSUES) return;
    this.#issuesSincePrune = 0;
    const horizon = this.#now() - RETENTION_MS;
    for (const [code, record] of this.#codes) {
      if (record.expiresAtMs < horizon) this.#codes.delete(code);
    }
  }
}
