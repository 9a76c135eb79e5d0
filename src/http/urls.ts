/**
 * URL rules every layer shares: joining API paths to a base URL, what counts as
 * loopback, and which service URLs credentials may be sent to. They sit at the
 * bottom of the stack so that http/, grants/ and providers/ can all use them
 * without depending on each other.
 */
import { ConfigError } from '../errors.js';

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
