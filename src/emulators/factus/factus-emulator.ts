/**
 * Factus emulator: Laravel Passport (league/oauth2-server) token endpoint with the
 * password and refresh_token grants, RS256 JWT access tokens, `def50200…` refresh
 * tokens, league-style errors, and the v1 and v2 APIs (bills, credit notes, numbering
 * ranges) behind an 80-per-minute limit, with DIAN's validation, rejections and slowness
 * as v2 shows them. docs/emulators.md lists every behaviour with its source.
 */
import { ConfigError } from '../../errors.js';
import type { ApiGuard } from '../core/api-guard.js';
import { EmulatorClock } from '../core/emulator-clock.js';
import { leagueErrorStyle } from '../core/error-style.js';
import { passwordGrant, refreshTokenGrant } from '../core/grants.js';
import { createRsaJwtSigner } from '../core/jwt.js';
import {
  type PasswordGrantCredentials,
  type RunningEmulator,
  startOAuthEmulator,
} from '../core/oauth-emulator.js';
import { ROTATION_MODES, type RotationMode, randomHex, TokenAuthority } from '../core/token-authority.js';
import { FactusBillStore } from './bill-store.js';
import { forbidden } from './envelope.js';
import { registerFactusApi } from './factus-api.js';

/** `all`: the seeded user may use every endpoint; `none`: its tokens are valid, but every API call is refused with 403. */
export type FactusUserRights = 'all' | 'none';

/** Every {@link FactusUserRights}, to check a setting or list the choices. */
export const FACTUS_USER_RIGHTS: readonly FactusUserRights[] = ['all', 'none'];

/** The seeded client and user a test or script logs in to the Factus emulator with (password grant). */
export type FactusCredentials = PasswordGrantCredentials;

/** How the Factus emulator should behave (lifetimes, rotation, rate limit, DIAN, rights); every field is optional. */
export interface FactusEmulatorOptions {
  /** 0 (default) picks a free port; the server listens on 127.0.0.1 only. */
  port?: number;
  /** Default 3600. */
  accessTtlSeconds?: number;
  /** Default 30 days. */
  refreshTtlSeconds?: number;
  /** Default `strict` (league: old refresh and access tokens revoked on refresh). */
  rotation?: RotationMode;
  /** How long a rotated refresh token stays usable in `grace` mode. Default 30. */
  graceSeconds?: number;
  /** API requests per minute per user. Default 80. */
  rateLimitPerMinute?: number;
  /**
   * Slow DIAN: how many sends of a new v2 bill come back `is_validated: false` with no
   * errors before DIAN validates it (each re-send of the same payload counts). Default 0.
   */
  dianPendingSends?: number;
  /** What the seeded user may do; `none` makes every API call a 403 with a valid token. Default `all`. */
  userRights?: FactusUserRights;
  /** Milliseconds since the epoch; default Date.now. Drives token expiry and the rate limit. */
  now?: () => number;
  /** Draws for fault rules' `ratio`, in [0, 1); default Math.random. Seed one for repeatable tests. */
  random?: () => number;
  /** The seeded client and user; defaults are {@link FACTUS_EMULATOR_CREDENTIALS}. */
  credentials?: Partial<FactusCredentials>;
}

/** A started Factus emulator, with the public key that verifies its JWT access tokens. */
export interface FactusRunningEmulator extends RunningEmulator<FactusCredentials> {
  /** SPKI PEM of the key that signs access tokens (Passport's oauth-public.key). */
  readonly publicKeyPem: string;
}

/** Fixed on purpose so docs and scripts can use them: this is an emulator. */
export const FACTUS_EMULATOR_CREDENTIALS: Readonly<FactusCredentials> = Object.freeze({
  clientId: 'factus-emulator-client',
  clientSecret: 'factus-emulator-secret-7d3f9a2c5e8b1046',
  username: 'demo@factus.example',
  password: 'factus-emulator-password',
});

type FactusSettings = Required<Omit<FactusEmulatorOptions, 'now' | 'random' | 'credentials'>>;

/** What {@link startFactusEmulator} uses for each setting left out, so a test can read a default instead of repeating it. */
export const FACTUS_EMULATOR_DEFAULTS: Readonly<FactusSettings> = Object.freeze({
  port: 0,
  accessTtlSeconds: 3600,
  refreshTtlSeconds: 30 * 24 * 60 * 60,
  rotation: 'strict',
  graceSeconds: 30,
  rateLimitPerMinute: 80,
  dianPendingSends: 0,
  userRights: 'all',
});

/** The user id the seeded account's tokens carry as `sub`. */
export const FACTUS_EMULATOR_USER_ID = '1';

/**
 * Starts a Factus emulator on 127.0.0.1 (a free port by default), for tests and scripts
 * that need Factus's OAuth and API without the real service.
 */
export async function startFactusEmulator(
  options: FactusEmulatorOptions = {},
): Promise<FactusRunningEmulator> {
  const { now: _now, random: _random, credentials: _credentials, ...given } = options;
  const settings: FactusSettings = { ...FACTUS_EMULATOR_DEFAULTS, ...withoutUndefined(given) };
  checkSettings(settings);
  const credentials: FactusCredentials = {
    ...FACTUS_EMULATOR_CREDENTIALS,
    ...withoutUndefined(options.credentials ?? {}),
  };
  // Skewed by POST /__emulator/clock; everything below reads this `now`.
  const clock = new EmulatorClock(options.now);
  const now = clock.now;

  const signer = await createRsaJwtSigner();
  const authority = new TokenAuthority({
    accessTtlSeconds: settings.accessTtlSeconds,
    refreshTtlSeconds: settings.refreshTtlSeconds,
    rotation: settings.rotation,
    graceSeconds: settings.graceSeconds,
    now,
    formatAccessToken: (draft) =>
      signer.sign({
        aud: draft.clientId,
        jti: draft.id,
        iat: Math.floor(draft.issuedAtMs / 1000),
        nbf: Math.floor(draft.issuedAtMs / 1000),
        exp: Math.floor(draft.expiresAtMs / 1000),
        sub: draft.userId,
        scopes: [...draft.scopes],
      }),
    formatRefreshToken: () => `def50200${randomHex(256)}`,
  });
  authority.addClient({ id: credentials.clientId, secret: credentials.clientSecret });
  authority.addUser({
    id: FACTUS_EMULATOR_USER_ID,
    username: credentials.username,
    password: credentials.password,
  });

  const bills = new FactusBillStore(now);
  bills.seed();

  const server = await startOAuthEmulator({
    port: settings.port,
    authority,
    grants: { password: passwordGrant, refresh_token: refreshTokenGrant },
    errorStyle: leagueErrorStyle,
    rateLimitPerMinute: settings.rateLimitPerMinute,
    clock,
    random: options.random,
    routes: ({ router, api }) => {
      // The token is checked first (401), then the user's rights (403).
      const guarded: ApiGuard = settings.userRights === 'all' ? api : () => api(() => forbidden());
      registerFactusApi(router, guarded, bills, { dianPendingSends: settings.dianPendingSends, now });
    },
  });

  return {
    url: server.url,
    tokenUrl: server.tokenUrl,
    credentials,
    publicKeyPem: signer.publicKeyPem,
    stats: server.stats,
    resetStats: server.resetStats,
    faults: server.faults,
    setClockSkew: server.setClockSkew,
    stop: server.stop,
  };
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined)) as Partial<T>;
}

function checkSettings(settings: FactusSettings): void {
  const { port } = settings;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(
      `Factus emulator: port must be an integer from 0 to 65535 (0 picks a free port), got ${port}.`,
    );
  }
  const positive = ['accessTtlSeconds', 'refreshTtlSeconds', 'rateLimitPerMinute'] as const;
  for (const name of positive) {
    const value = settings[name];
    if (!Number.isInteger(value) || value <= 0) {
      throw new ConfigError(`Factus emulator: ${name} must be a positive integer, got ${value}.`);
    }
  }
  if (!Number.isInteger(settings.dianPendingSends) || settings.dianPendingSends < 0) {
    throw new ConfigError(
      `Factus emulator: dianPendingSends must be a whole number, 0 or more, got ${settings.dianPendingSends}.`,
    );
  }
  if (!FACTUS_USER_RIGHTS.includes(settings.userRights)) {
    throw new ConfigError(
      `Factus emulator: userRights must be one of ${FACTUS_USER_RIGHTS.join(', ')}, got ${String(settings.userRights)}.`,
    );
  }
  if (!Number.isFinite(settings.graceSeconds) || settings.graceSeconds < 0) {
    throw new ConfigError(`Factus emulator: graceSeconds must be 0 or more, got ${settings.graceSeconds}.`);
  }
  if (!ROTATION_MODES.includes(settings.rotation)) {
    throw new ConfigError(
      `Factus emulator: rotation must be one of ${ROTATION_MODES.join(', ')}, got ${String(settings.rotation)}.`,
    );
  }
}
