/**
 * URL rules every layer shares: joining API paths to a base URL, what counts as
 * loopback, and which service URLs credentials may be sent to. They sit at the
 * bottom of the stack so that http/, grants/ and providers/ can all use them
 * without depending on each other.
 */
import { ConfigError } from '../errors.js';

/**
 * An IPv4 literal in the dotted-decimal form the URL parser gives every IPv4 host. Matched here,
 * not with node:net's isIPv4: loading node:net is a few ms of every CLI start.
 */
const IPV4_LITERAL = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** Appends a path to a base URL that may itself carry a path prefix. */
export function joinUrl(baseUrl: string, path: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}

/**
 * True for `localhost`, `::1` and the IPv4 literals 127.0.0.0/8. A name that only
 * looks like one (`127.attacker.example`, `127.0.0.1.nip.io`) resolves wherever its
 * owner wants, so it is not loopback. (The URL parser has already turned shorthand
 * such as `127.1` into `127.0.0.1`.)
 */
export function isLoopbackUrl(url: URL): boolean {
  const host = url.hostname;
  if (host === 'localhost' || host === '[::1]') return true;
  return IPV4_LITERAL.test(host) && host.startsWith('127.');
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
      `The ${what} ${url.origin} uses plain http; tokens would travel unencrypted. Use https (plain http is only allowed on loopback: 127.0.0.0/8, ::1 and localhost).`,
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
