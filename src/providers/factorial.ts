import type { ProviderProfile } from './types.js';

/** The dated API version used for the identity endpoint. */
export const FACTORIAL_API_VERSION = '2026-07-01';

/** Factorial HR (Doorkeeper OAuth, API keys). Facts: shared/PROVIDERS.md. */
export const factorialProfile: ProviderProfile = {
  id: 'factorial',
  displayName: 'Factorial',
  environments: {
    production: { baseUrl: 'https://api.factorialhr.com' },
    // The demo API host of production-and-demo.md. Partners may be handed another host
    // (the partner guide names others): --base-url overrides it.
    demo: { baseUrl: 'https://api.eu2.demo.factorial.dev' },
  },
  defaultEnvironment: 'production',
  tokenPath: '/oauth/token',
  authorizationPath: '/oauth/authorize',
  // Doorkeeper's RFC 7009 endpoint; not documented by Factorial, harmless when absent.
  revocationPath: '/oauth/revoke',
  grants: ['authorization_code', 'api_key'],
  defaultGrant: 'authorization_code',
  clientAuthMethod: 'client_secret_post',
  // Factorial does not use PKCE.
  pkce: false,
  // Apps registered today have per-resource scopes (`employees documents`, each read and
  // write within its resources), space-separated; pass them with --scope. Without one,
  // older apps' `read write` is asked for.
  scopeDelimiter: ' ',
  defaultScope: 'read write',
  defaultRedirectUri: 'http://127.0.0.1:8765/callback',
  // The docs give 1 h, 2 h and 7 days; only used when a response carries no expires_in.
  defaultTokenLifetimeSeconds: 3600,
  // Public clients assume a refresh token lives one week (shared/PROVIDERS.md).
  refreshTokenLifetimeSeconds: 7 * 24 * 60 * 60,
  // Company tokens come without expires_in and do not expire.
  missingExpiryMeansNever: true,
  apiKeyHeader: 'x-api-key',
  rateLimits: [
    {
      label: 'Factorial POST /api/v2 and dated versions (200/minute)',
      limit: 200,
      windowMs: 60_000,
      methods: ['POST'],
      pathPattern: /^\/api\/(v2|\d{4}-\d{2}-\d{2})\//,
    },
    {
      label: 'Factorial POST /api/v1 (100/minute)',
      limit: 100,
      windowMs: 60_000,
      methods: ['POST'],
      pathPattern: /^\/api\/v1\//,
    },
  ],
  // {"data":[…],"meta":{"has_next_page","end_cursor",…}}; the next page is ?after_id=<end_cursor>.
  pagination: {
    kind: 'cursor',
    cursorParam: 'after_id',
    itemsPath: 'data',
    hasNextPath: 'meta.has_next_page',
    nextCursorPath: 'meta.end_cursor',
  },
  errorMessageFields: ['error_description', 'message', 'errors', 'error'],
  identityPaths: [`/api/${FACTORIAL_API_VERSION}/resources/api_public/credentials`, '/api/v1/me'],
  credentialEnv: {
    clientId: 'FACTORIAL_CLIENT_ID',
    clientSecret: 'FACTORIAL_CLIENT_SECRET',
    // The official SDK's name.
    apiKey: 'FACTORIAL_API_KEY',
  },
  clientRegistrationHint: 'your Factorial OAuth application (Settings → OAuth applications)',
  docsUrl: 'https://apidoc.factorialhr.com',
};
