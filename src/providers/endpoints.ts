import { ConfigError } from '../errors.js';
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

/** Appends a path to a base URL that may itself carry a path prefix. */
export function joinUrl(baseUrl: string, path: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

export function isLoopbackUrl(url: URL): boolean {
  return LOOPBACK_HOSTS.has(url.hostname) || url.hostname.startsWith('127.');
}

/**
 * Credentials only ever travel over HTTPS; plain HTTP is accepted for loopback
 * addresses, where the emulators and local proxies live.
 */
export function validateServiceUrl(value: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(
      `The ${what} "${value}" is not a valid URL; write it like https://api.example.com.`,
    );
  }
  if (url.username || url.password) {
    throw new ConfigError(`The ${what} must not contain a user name or password.`);
  }
  if (url.protocol === 'http:' && !isLoopbackUrl(url)) {
    throw new ConfigError(
      `The ${what} ${url.origin} uses plain http; tokens would travel unencrypted. Use https (http is only allowed on 127.0.0.1/localhost).`,
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ConfigError(`The ${what} must be an https URL, got ${url.protocol}.`);
  }
  if (url.search || url.hash) {
    throw new ConfigError(`The ${what} must not contain a query string or fragment.`);
  }
  return url;
}
