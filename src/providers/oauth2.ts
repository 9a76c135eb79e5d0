import type { ProviderProfile } from './types.js';

/**
 * Any OAuth 2.0 server: endpoints come from discovery (RFC 8414 / OpenID Connect)
 * or from explicit URLs saved with the connection, not from this profile.
 */
export const genericOAuth2Profile: ProviderProfile = {
  id: 'oauth2',
  displayName: 'OAuth 2.0',
  environments: {},
  defaultEnvironment: '',
  tokenPath: '',
  endpointsFromConnection: true,
  allowsPublicClients: true,
  grants: ['authorization_code', 'client_credentials', 'password'],
  defaultGrant: 'authorization_code',
  // RFC 6749 §2.3.1: servers must support Basic; discovery may say otherwise.
  clientAuthMethod: 'client_secret_basic',
  // Used whenever the server supports S256, and when it does not say (harmless if ignored).
  pkce: true,
  scopeDelimiter: ' ',
  defaultRedirectUri: 'http://127.0.0.1:8765/callback',
  defaultTokenLifetimeSeconds: 3600,
  rateLimits: [],
  errorMessageFields: ['error_description', 'message', 'error'],
  credentialEnv: {},
};
