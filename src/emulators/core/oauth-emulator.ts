/**
 * Puts the core together: an HTTP server on loopback with a token endpoint, the control
 * routes and whatever API routes a provider registers behind the Bearer + rate-limit
 * guard. A provider emulator is a file that builds a TokenAuthority, picks its grants
 * and ErrorStyle, registers its API routes and calls startOAuthEmulator.
 */
import { type ApiGuard, type ApiGuardOptions, createApiGuard } from './api-guard.js';
import { registerControlRoutes } from './control-routes.js';
import { EmulatorClock } from './emulator-clock.js';
import type { ErrorStyle } from './error-style.js';
import { type EmulatorFaults, FaultRules } from './fault-rules.js';
import { BASE_FAULT_POINTS, type FaultInjector, type FaultPoint } from './faults.js';
import { startHttpServer } from './http-server.js';
import { FixedWindowRateLimiter } from './rate-limiter.js';
import { Router } from './router.js';
import { type EmulatorStats, EmulatorStatsCounter, type OptionalCounter } from './stats.js';
import type { IssuedTokens, TokenAuthority } from './token-authority.js';
import { createTokenEndpoint, type GrantHandler } from './token-endpoint.js';

export interface OAuthEmulatorRoutesContext {
  router: Router;
  /** Wraps an API handler in the Bearer-token check and the rate limit. */
  api: ApiGuard;
  /** The counters, for routes of the provider's own (authorization, revocation). */
  stats: EmulatorStatsCounter;
  /** The fault injector the token endpoint and the API guard consult; give it to the provider's own endpoints. */
  faults: FaultInjector;
}

/**
 * What a provider emulator hands {@link startOAuthEmulator}: its authority, grants, error
 * wording, rate limit and API routes; the core adds the token endpoint and `/__emulator/*`.
 */
export interface OAuthEmulatorConfig {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default `/oauth/token`. */
  tokenPath?: string;
  authority: TokenAuthority;
  /** Keyed by `grant_type`; each gets its own key in the stats. */
  grants: Readonly<Record<string, GrantHandler>>;
  errorStyle: ErrorStyle;
  rateLimitPerMinute: number;
  /** Which bucket an API request counts against; default one per token subject. */
  rateLimitKey?: ApiGuardOptions['rateLimitKey'];
  /** API keys the API accepts besides Bearer tokens. */
  apiKey?: ApiGuardOptions['apiKey'];
  /** The scopes an API request needs. */
  requiredScopes?: ApiGuardOptions['requiredScopes'];
  /** Scope rules beyond "all of these" (see ApiGuardOptions). */
  missingScopes?: ApiGuardOptions['missingScopes'];
  /** Extra counters in the stats (`authorizations`, `revocations`). */
  optionalCounters?: readonly OptionalCounter[];
  /** Ignored when `clock` is given. */
  now?: () => number;
  /** The clock `/__emulator/clock` skews; share it with the authority so tokens follow the skew. */
  clock?: EmulatorClock;
  /** Draws for fault rules' `ratio`; default Math.random. */
  random?: () => number;
  /** The fault points the provider serves. Default token and api; add authorize and revoke when it has them. */
  faultPoints?: readonly FaultPoint[];
  tokenResponseBody?: (tokens: IssuedTokens) => Record<string, unknown>;
  /** An injector consulted after the fault rules (for tests of the emulator itself). */
  faults?: FaultInjector;
  maxBodyBytes?: number;
  routes(context: OAuthEmulatorRoutesContext): void;
}

/** A started emulator: its URLs, counters, fault rules and clock skew, and how to stop it. */
export interface OAuthEmulatorServer {
  /** `http://127.0.0.1:<port>`, no trailing slash: the API base URL. */
  readonly url: string;
  readonly tokenUrl: string;
  stats(): EmulatorStats;
  /** Zeroes the counters; issued tokens, fault rules and the clock skew stay. */
  resetStats(): void;
  /** The fault rules, as `/__emulator/faults` serves them. */
  readonly faults: EmulatorFaults;
  /** What `POST /__emulator/clock` does: sets the skew (0 undoes it) and returns it. */
  setClockSkew(skewMs: number): number;
  stop(): Promise<void>;
}

/** What the seeded account of a password-grant emulator looks like. */
export interface PasswordGrantCredentials {
  clientId: string;
  clientSecret: string;
  username: string;
  password: string;
}

/** A started provider emulator with the seeded credentials a test logs in with. */
export interface RunningEmulator<Credentials = PasswordGrantCredentials> extends OAuthEmulatorServer {
  readonly credentials: Credentials;
}

/**
 * Starts an OAuth provider emulator on 127.0.0.1: the building block of the Factus and
 * Factorial emulators, and the way to emulate another OAuth 2.0 provider.
 */
export async function startOAuthEmulator(config: OAuthEmulatorConfig): Promise<OAuthEmulatorServer> {
  const tokenPath = config.tokenPath ?? '/oauth/token';
  const clock = config.clock ?? new EmulatorClock(config.now);
  const faultPoints = config.faultPoints ?? BASE_FAULT_POINTS;
  const stats = new EmulatorStatsCounter(Object.keys(config.grants), {
    optionalCounters: config.optionalCounters,
    faultPoints,
  });
  const rules = new FaultRules({
    points: faultPoints,
    now: clock.baseNow,
    random: config.random ?? Math.random,
    onApplied: (point) => stats.fault(point),
  });
  const faults = withInjector(rules, config.faults);
  const limiter = new FixedWindowRateLimiter({ limit: config.rateLimitPerMinute, now: clock.now });
  const router = new Router(config.errorStyle);

  router.add(
    'POST',
    tokenPath,
    createTokenEndpoint({
      authority: config.authority,
      grants: config.grants,
      errorStyle: config.errorStyle,
      stats,
      faults,
      tokenResponseBody: config.tokenResponseBody,
    }),
  );
  registerControlRoutes(router, { stats, faults: rules, clock });
  const api = createApiGuard({
    authority: config.authority,
    errorStyle: config.errorStyle,
    stats,
    limiter,
    rateLimitKey: config.rateLimitKey,
    apiKey: config.apiKey,
    requiredScopes: config.requiredScopes,
    missingScopes: config.missingScopes,
    faults,
  });
  config.routes({ router, api, stats, faults });

  const server = await startHttpServer({
    port: config.port,
    maxBodyBytes: config.maxBodyBytes,
    handler: router.handle,
    payloadTooLarge: config.errorStyle.payloadTooLarge,
    serverError: config.errorStyle.serverError,
  });

  return {
    url: server.url,
    tokenUrl: `${server.url}${tokenPath}`,
    stats: () => stats.snapshot(),
    resetStats: () => stats.reset(),
    faults: rules,
    setClockSkew: (skewMs) => clock.setSkew(skewMs),
    stop: () => server.close(),
  };
}

/** The rules first, then the extra injector, if any. */
function withInjector(rules: FaultRules, extra: FaultInjector | undefined): FaultInjector {
  if (!extra) return rules;
  return {
    around: (point, request, next) => rules.around(point, request, () => extra.around(point, request, next)),
  };
}
