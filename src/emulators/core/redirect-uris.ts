/**
 * Redirect URI matching. Doorkeeper compares exactly, except that for a registered
 * loopback IP literal (`127.0.0.0/8`, `[::1]`) any port is accepted, as RFC 8252 §7.3 asks:
 * a native app listens on whatever port the OS gives it. `localhost` is a name, not a
 * loopback IP, so it still matches exactly.
 */
import { isIP } from 'node:net';

/** `loopback-any-port` (Doorkeeper, default) or `exact` (stricter servers). */
export type RedirectUriMatching = 'loopback-any-port' | 'exact';

/** Every {@link RedirectUriMatching}, to check a setting or list the choices. */
export const REDIRECT_URI_MATCHINGS: readonly RedirectUriMatching[] = ['loopback-any-port', 'exact'];

export function redirectUriMatches(
  requested: string,
  registered: string,
  matching: RedirectUriMatching,
): boolean {
  if (requested === registered) return true;
  if (matching === 'exact') return false;
  const a = parse(requested);
  const b = parse(registered);
  if (!a || !b || !isLoopbackIp(a.hostname) || !isLoopbackIp(b.hostname)) return false;
  a.port = '';
  b.port = '';
  return a.href === b.href;
}

function parse(uri: string): URL | undefined {
  return URL.canParse(uri) ? new URL(uri) : undefined;
}

function isLoopbackIp(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) === 4) return host.startsWith('127.');
  return isIP(host) === 6 && (host === '::1' || host === '0:0:0:0:0:0:0:1');
}
