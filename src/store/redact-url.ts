/** A store URL fit to show a human: no password, no query parameter that looks like a secret. */
export function redactConnectionUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.password = '';
    for (const key of [...parsed.searchParams.keys()]) {
      if (isSecretParam(key)) parsed.searchParams.delete(key);
    }
    return parsed.toString();
  } catch {
    return '(a URL that cannot be parsed)';
  }
}

/** A query parameter of a store URL that may hold a secret. */
export function isSecretParam(name: string): boolean {
  return /pass|secret|token|key/i.test(name);
}
