/**
 * URL rules every layer shares: joining API paths to a base URL, what counts as
 * loopback, and which service URLs credentials may be sent to. They sit at the
 * bottom of the stack so that http/, grants/ and providers/ can all use them
 * without depending on each other.
 */
import { ConfigError } from '../errors.js';

/**
 * 127.0.0.0/8 as the URL parser writes it: a host that ends in a number is parsed as IPv4 (or
 * refused) and written in dotted decimal, so any other name, `127.0.0.1.nip.io` too, is not
 * matched. (node:net's isIPv4 would load the net module at every CLI start, a few ms.)
 */
const LOOPBACK_IPV4 = /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;

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
  return LOOPBACK_IPV4.test(host);
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
