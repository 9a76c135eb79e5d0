import type { ProviderProfile } from './types.js';

/** Factus, Colombian electronic invoicing (DIAN). Facts: shared/PROVIDERS.md. */
export const factusProfile: ProviderProfile = {
  id: 'factus',
  displayName: 'Factus',
  environments: {
    sandbox: { baseUrl: 'https://api-sandbox.factus.com.co' },
    production: { baseUrl: 'https://api.factus.com.co' },
  },
  defaultEnvironment: 'sandbox',
  tokenPath: '/oauth/token',
  grants: ['password'],
  defaultGrant: 'password',
  // Passport takes client_id/client_secret in the form body.
  clientAuthMethod: 'client_secret_post',
  pkce: false,
  scopeDelimiter: ' ',
  // Observed lifetime of a Factus access token; only used when a response says nothing.
  defaultTokenLifetimeSeconds: 3600,
  // Unknown; league/oauth2-server's default of one month (shared/PROVIDERS.md).
  refreshTokenLifetimeSeconds: 30 * 24 * 60 * 60,
  rateLimits: [{ label: 'Factus API (80 requests/minute per user)', limit: 80, windowMs: 60_000 }],
  // Laravel pagination inside the envelope: {"data":{"data":[…],"pagination":{"current_page","last_page",…}}}
  pagination: {
    kind: 'page-number',
    pageParam: 'page',
    itemsPath: 'data.data',
    currentPagePath: 'data.pagination.current_page',
    lastPagePath: 'data.pagination.last_page',
  },
  // Envelope: {"status":"…","message":"…","data":{"message":…,"errors":{…}}}
  errorMessageFields: ['message', 'data.message', 'error_description'],
  credentialEnv: {
    clientId: 'FACTUS_CLIENT_ID',
    clientSecret: 'FACTUS_CLIENT_SECRET',
    username: 'FACTUS_USERNAME',
    password: 'FACTUS_PASSWORD',
  },
  docsUrl: 'https://developers.factus.com.co',
};
