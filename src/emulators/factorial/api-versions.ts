/**
 * Factorial's dated API versions (api-versioning.md): a new version at the start of each
 * quarter, each supported for one year; "after the 9 months, your API request to an
 * unsupported version will be served using the oldest version schema". So a retired
 * quarterly version is answered as the oldest supported one. A date that was never a
 * release (not the first day of a quarter, or later than the newest version) has no routes
 * and gets the 404 of any unknown path: that part is inferred, not documented.
 */

/** Four quarters: one year of support, up to the newest version (a release candidate in the docs). */
export const FACTORIAL_DEFAULT_API_VERSIONS: readonly string[] = Object.freeze([
  '2025-10-01',
  '2026-01-01',
  '2026-04-01',
  '2026-07-01',
]);

/** What a retired version gets: `oldest` (the documented answer) or `not-found` (a stricter server). */
export type RetiredVersionMode = 'oldest' | 'not-found';

/** Every {@link RetiredVersionMode}, to check a setting or list the choices. */
export const RETIRED_VERSION_MODES: readonly RetiredVersionMode[] = ['oldest', 'not-found'];

/** The version header the emulator adds so a client (or a test) can see which schema answered. */
export const SERVED_VERSION_HEADER = 'x-emulator-api-version';

const QUARTERLY_VERSION = /^(\d{4})-(01|04|07|10)-01$/;

export function isQuarterlyVersion(version: string): boolean {
  return QUARTERLY_VERSION.test(version);
}

export interface ApiVersionPolicy {
  /** Supported dated versions, oldest first. */
  supported: readonly string[];
  retired: RetiredVersionMode;
}

/**
 * The version whose schema answers a request to `/api/{requested}/…`, or undefined for a
 * version with no routes. `v2` is the undated version and always answers as itself.
 */
export function servedVersion(requested: string, policy: ApiVersionPolicy): string | undefined {
  if (requested === 'v2') return 'v2';
  if (policy.supported.includes(requested)) return requested;
  const oldest = policy.supported[0];
  if (oldest === undefined || !isQuarterlyVersion(requested) || requested > oldest) return undefined;
  return policy.retired === 'oldest' ? oldest : undefined;
}
