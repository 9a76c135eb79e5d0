/**
 * Factorial's OAuth scopes: `read` and `write`. The docs write them as `read,write`,
 * `read+write` and `read write`, so all three separators are accepted; a missing scope
 * means both.
 */

export const FACTORIAL_SCOPES = ['read', 'write'] as const;
export type FactorialScope = (typeof FACTORIAL_SCOPES)[number];

export const FACTORIAL_DEFAULT_SCOPES: readonly FactorialScope[] = FACTORIAL_SCOPES;

export type ScopeParse = { ok: true; scopes: FactorialScope[] } | { ok: false };

/** Scopes in canonical order (`read` before `write`), without repeats; any unknown one fails. */
export function parseFactorialScopes(raw: string | null | undefined): ScopeParse {
  const names = (raw ?? '').split(/[\s,+]+/).filter((name) => name.length > 0);
  if (names.length === 0) return { ok: true, scopes: [...FACTORIAL_DEFAULT_SCOPES] };
  const known = new Set<string>(FACTORIAL_SCOPES);
  if (names.some((name) => !known.has(name))) return { ok: false };
  return { ok: true, scopes: FACTORIAL_SCOPES.filter((scope) => names.includes(scope)) };
}
