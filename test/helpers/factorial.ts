/** A Factorial login by authorization code against the emulator, for tests that need one. */
import assert from 'node:assert/strict';
import type { FactorialRunningEmulator } from '../../src/emulators/factorial/factorial-emulator.js';

export const FACTORIAL_TEST_REDIRECT = 'http://127.0.0.1:8765/callback';

export interface ObtainedCode {
  code: string;
  redirectUri: string;
}

/** The browser's part: the auto-approving emulator redirects with a code at once. */
export async function autoApprovedCode(emulator: FactorialRunningEmulator): Promise<ObtainedCode> {
  const url = new URL(emulator.authorizeUrl);
  url.search = new URLSearchParams({
    client_id: emulator.credentials.clientId,
    redirect_uri: FACTORIAL_TEST_REDIRECT,
    response_type: 'code',
  }).toString();
  const response = await fetch(url, { redirect: 'manual' });
  await response.arrayBuffer();
  const code = new URL(response.headers.get('location') ?? '').searchParams.get('code');
  assert.ok(code, `expected a code, got HTTP ${response.status}`);
  return { code, redirectUri: FACTORIAL_TEST_REDIRECT };
}

/** What keeper.connect needs to finish a Factorial login with `code`. */
export function factorialCodeSpec(emulator: FactorialRunningEmulator, code: ObtainedCode, scope?: string) {
  return {
    provider: 'factorial',
    baseUrl: emulator.url,
    grant: 'authorization_code' as const,
    clientId: emulator.credentials.clientId,
    clientSecret: emulator.credentials.clientSecret,
    ...(scope ? { scope } : {}),
    authorizationCode: code,
  };
}
