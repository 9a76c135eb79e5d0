/**
 * Puts the core together: an HTTP server on loopback with a token endpoint, the control
 * routes and whatever API routes a provider registers behind the Bearer + rate-limit
 * guard. A provider emulator is a file that builds a TokenAuthority, picks its grants
 * and ErrorStyle, registers its API routes and calls startOAuthEmulator.
 */
import { type ApiGuard, type ApiGuardOptions, createApiGuard } from './api-guard.js';
import { registerControlRoutes } from './control-routes.js';
import type { ErrorStyle } from './error-style.js';
import { type FaultInjector, noFaults } from './faults.js';
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
  /** The fault injector the token endpoint and the API guard consult. */
  faults: FaultInjector;
}

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
  now?: () => number;
  tokenResponseBody?: (tokens: IssuedTokens) => Record<string, unknown>;
  faults?: FaultInjector;
  maxBodyBytes?: number;
  routes(context: OAuthEmulatorRoutesContext): void;
}

export interface OAuthEmulatorServer {
  /** `http://127.0.0.1:<port>`, no trailing slash: the API base URL. */
  readonly url: string;
  readonly tokenUrl: string;
  stats(): EmulatorStats;
  /** Zeroes the counters; issued tokens stay valid. */
  resetStats(): void;
  stop(): Promise<void>;
}

/** What the seeded account of a password-grant emulator looks like. */
export interface PasswordGrantCredentials {
  clientId: string;
  clientSecret: string;
  username: string;
  password: string;
}

export interface RunningEmulator<Credentials = PasswordGrantCredentials> extends OAuthEmulatorServer {
  readonly credentials: Credentials;
}

export async function startOAuthEmulator(config: OAuthEmulatorConfig): Promise<OAuthEmulatorServer> {
  const tokenPath = config.tokenPath ?? '/oauth/token';
  const faults = config.faults ?? noFaults;
  const stats = new EmulatorStatsCounter(Object.keys(config.grants), {
    optionalCounters: config.optionalCounters,
  });
  const limiter = new FixedWindowRateLimiter({ limit: config.rateLimitPerMinute, now: config.now });
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
  registerControlRoutes(router, stats);
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
    stop: () => server.close(),
  };
}
