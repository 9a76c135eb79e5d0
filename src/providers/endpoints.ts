import { ConfigError } from '../errors.js';
import { joinUrl, validateServiceUrl } from '../http/urls.js';
import type { ProviderProfile } from './types.js';

export interface ConnectionEndpoints {
  /** Where API paths are resolved, without a trailing slash. */
  baseUrl: string;
  tokenUrl: string;
  authorizationUrl?: string;
  revocationUrl?: string;
}

export interface EndpointChoice {
  environment?: string;
  baseUrl?: string;
}

/**
 * Picks the base URL from an environment name or an explicit override (the
 * emulators, a proxy, a new region) and derives the OAuth endpoints from it.
 */
export function resolveEndpoints(profile: ProviderProfile, choice: EndpointChoice): ConnectionEndpoints {
  if (choice.environment && choice.baseUrl) {
    throw new ConfigError('Give either an environment or a base URL, not both.');
  }
  let baseUrl: string;
  if (choice.baseUrl) {
    baseUrl = validateServiceUrl(choice.baseUrl, 'base URL').href.replace(/\/+$/, '');
  } else {
    const environment = choice.environment ?? profile.defaultEnvironment;
    const env = profile.environments[environment];
    if (!env) {
      throw new ConfigError(
        `${profile.displayName} has no environment "${environment}". ` +
          `Use one of: ${Object.keys(profile.environments).join(', ')}, or give a base URL.`,
      );
    }
    baseUrl = env.baseUrl;
  }
  return {
    baseUrl,
    tokenUrl: joinUrl(baseUrl, profile.tokenPath),
    ...(profile.authorizationPath ? { authorizationUrl: joinUrl(baseUrl, profile.authorizationPath) } : {}),
    ...(profile.revocationPath ? { revocationUrl: joinUrl(baseUrl, profile.revocationPath) } : {}),
  };
}
