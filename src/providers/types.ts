/**
 * A provider profile is data: hosts, environments, grants, limits and quirks.
 * House rule: a provider's peculiarities live in its profile, never as
 * `if (provider === 'x')` somewhere else.
 */

import type { ClientAuthMethod, GrantType } from '../grants/types.js';
import type { RateLimitRule } from '../http/rate-limiter.js';

export type { ClientAuthMethod, GrantType, RateLimitRule };

/** One named environment of a provider (sandbox, production, demo). */
export interface ProviderEnvironment {
  /** API base URL; the token endpoint and other OAuth paths are resolved against it. */
  baseUrl: string;
}

/** Environment variables a provider's credentials are read from by the CLI. */
export interface CredentialEnvNames {
  clientId?: string;
  clientSecret?: string;
  username?: string;
  password?: string;
  apiKey?: string;
}

/**
 * How an API pages its lists, for `tokenkeeper request --paginate`. Paths are dotted
 * field names in the JSON body (`data.pagination.last_page`).
 */
export type PaginationStyle =
  | {
      /** Numbered pages: `?page=N`, up to a last page the body names. */
      kind: 'page-number';
      pageParam: string;
      itemsPath: string;
      currentPagePath: string;
      lastPagePath: string;
    }
  | {
      /** Opaque cursors: the next page is asked for with the cursor the body gives. */
      kind: 'cursor';
      cursorParam: string;
      itemsPath: string;
      hasNextPath: string;
      nextCursorPath: string;
    };

/** A provider as data: hosts, environments, grants, limits and quirks. Pass your own in `providers`. */
export interface ProviderProfile {
  id: string;
  displayName: string;
  environments: Record<string, ProviderEnvironment>;
  defaultEnvironment: string;
  /** Paths relative to the environment's base URL. */
  tokenPath: string;
  authorizationPath?: string;
  revocationPath?: string;
  grants: GrantType[];
  defaultGrant: GrantType;
  clientAuthMethod: ClientAuthMethod;
  /** Used when a token response carries neither `expires_in` nor a JWT `exp`. */
  defaultTokenLifetimeSeconds: number;
  /**
   * How long a refresh token stays usable when nobody uses it (seconds); absent when unknown.
   * `tokenkeeper serve` refreshes an idle connection well before that (and at least every
   * `--keepalive`), so a connection nobody touches is not lost.
   */
  refreshTokenLifetimeSeconds?: number;
  /** The provider documents that a token without `expires_in` never expires. */
  missingExpiryMeansNever?: boolean;
  /** Header an API key goes in, for providers with API keys. */
  apiKeyHeader?: string;
  /** Send a PKCE S256 challenge with the authorization code grant. */
  pkce: boolean;
  /** How the provider separates scopes in the `scope` parameter. */
  scopeDelimiter: string;
  /** Scope asked for when the user names none. */
  defaultScope?: string;
  /** Redirect URI for the authorization code grant when none is given (must match the one registered). */
  defaultRedirectUri?: string;
  /** API paths that say who owns a credential, tried in order (a 404 moves on to the next). */
  identityPaths?: string[];
  /** Clients without a secret (PKCE) may log in: the CLI lets the client secret stay empty. */
  allowsPublicClients?: boolean;
  /**
   * Endpoints come from the connection (discovery or explicit URLs) rather than from
   * `environments`: the generic OAuth 2.0 profile.
   */
  endpointsFromConnection?: boolean;
  rateLimits: RateLimitRule[];
  /** How list endpoints page their results; absent: `--paginate` is refused. */
  pagination?: PaginationStyle;
  /** Where to find a human-readable message in the provider's JSON error bodies. */
  errorMessageFields: string[];
  credentialEnv: CredentialEnvNames;
  /** Where the provider's OAuth applications are managed, for error messages. */
  clientRegistrationHint?: string;
  /** Documentation of the provider, shown in help texts. */
  docsUrl?: string;
}
