/**
 * Factorial's OAuth scopes. Apps registered today pick per-resource scopes (`employees`,
 * `documents`, …), each allowing read AND write within its resources (oauth-scopes.md);
 * older apps have `read` and `write`, which still work. The docs write scope lists as
 * `a b` (the authorize URL), `read,write` and `read+write`, so all three separators are
 * accepted.
 */

/** The scopes of older apps: `read` allows GET, `write` everything else, on every resource. */
export const FACTORIAL_LEGACY_SCOPES = ['read', 'write'] as const;

/** The per-resource scopes listed in Factorial's oauth-scopes.md. */
export const FACTORIAL_RESOURCE_SCOPES = [
  'banking',
  'company_legal_entities',
  'company_holidays',
  'company_locations',
  'contracts',
  'custom_fields',
  'documents',
  'employees',
  'employee_updates',
  'expenses',
  'finance',
  'integrations',
  'job_catalog',
  'marketplace',
  'payroll',
  'payroll_supplements',
  'performance',
  'posts',
  'project_management_expenses',
  'project_management_projects',
  'project_management_time',
  'shift_management',
  'tasks',
  'time_off',
  'time_tracking',
  'trainings',
  'recruitment',
] as const;

/** Every scope the emulator knows, in canonical order (legacy first). */
export const FACTORIAL_SCOPES: readonly string[] = [...FACTORIAL_LEGACY_SCOPES, ...FACTORIAL_RESOURCE_SCOPES];

/** What a request without `scope` gets, when the app has them: Doorkeeper's default scopes (kept for older apps). */
export const FACTORIAL_DEFAULT_SCOPES: readonly string[] = FACTORIAL_LEGACY_SCOPES;

export type ScopeParse = { ok: true; scopes: string[] } | { ok: false };

export function splitScopes(raw: string | null | undefined): string[] {
  return (raw ?? '').split(/[\s,+]+/).filter((name) => name.length > 0);
}

/**
 * The scopes an authorization request gets, in canonical order without repeats. Every
 * requested scope must be one the app is registered with (Doorkeeper's
 * `enforce_configured_scopes`); none requested means the default scopes the app has, or
 * else all of the app's scopes.
 */
export function parseFactorialScopes(
  raw: string | null | undefined,
  appScopes: readonly string[],
): ScopeParse {
  const names = splitScopes(raw);
  const canonical = (wanted: readonly string[]) => FACTORIAL_SCOPES.filter((scope) => wanted.includes(scope));
  if (names.length === 0) {
    const defaults = FACTORIAL_DEFAULT_SCOPES.filter((scope) => appScopes.includes(scope));
    return { ok: true, scopes: canonical(defaults.length > 0 ? defaults : appScopes) };
  }
  if (names.some((name) => !appScopes.includes(name))) return { ok: false };
  return { ok: true, scopes: canonical(names) };
}

/** Scope names the emulator does not know (an app registered with one is a configuration mistake). */
export function unknownScopes(scopes: readonly string[]): string[] {
  return scopes.filter((scope) => !FACTORIAL_SCOPES.includes(scope));
}

/**
 * Whether a credential with `granted` scopes may call an endpoint of `resourceScope` with
 * `method`: its resource scope allows both reading and writing; the legacy `read` allows
 * GET/HEAD and `write` the other methods, on any resource.
 */
export function scopeAllows(granted: readonly string[], resourceScope: string, method: string): boolean {
  if (granted.includes(resourceScope)) return true;
  const reading = method === 'GET' || method === 'HEAD';
  return granted.includes(reading ? 'read' : 'write');
}
