/** Loopback HTTP helpers for the Factorial emulator tests (authorize, token, API). */
import assert from 'node:assert/strict';
import { after } from 'node:test';
import { FakeClock } from '../../src/clock.js';
import {
  type FactorialEmulatorOptions,
  type FactorialRunningEmulator,
  startFactorialEmulator,
} from '../../src/emulators/factorial/factorial-emulator.js';
import { type JsonReply, readJson } from './helpers.js';

export const CALLBACK = 'http://127.0.0.1:8765/callback';
export const VERSION = '2026-07-01';
export const EMPLOYEES = `/api/${VERSION}/resources/employees/employees`;
export const DOCUMENTS = `/api/${VERSION}/resources/documents/documents`;
export const CREDENTIALS = `/api/${VERSION}/resources/api_public/credentials`;

const running: FactorialRunningEmulator[] = [];
after(() => Promise.all(running.map((emulator) => emulator.stop())));

export async function startFactorial(options: FactorialEmulatorOptions = {}) {
  const clock = new FakeClock(Date.UTC(2026, 0, 1, 12));
  const emulator = await startFactorialEmulator({ now: () => clock.now(), ...options });
  running.push(emulator);
  return { emulator, clock };
}

/** GET /oauth/authorize without following the redirect. */
export function authorize(emulator: FactorialRunningEmulator, params: Record<string, string> = {}) {
  const url = new URL(emulator.authorizeUrl);
  url.search = new URLSearchParams({
    client_id: emulator.credentials.clientId,
    redirect_uri: CALLBACK,
    response_type: 'code',
    ...params,
  }).toString();
  return fetch(url, { redirect: 'manual', headers: { accept: 'text/html' } });
}

/** The redirect's query, which must be there. */
export async function redirectQuery(response: Response): Promise<URLSearchParams> {
  await response.arrayBuffer();
  const location = response.headers.get('location');
  assert.ok(location, `expected a redirect, got HTTP ${response.status}`);
  return new URL(location).searchParams;
}

export function postToken(emulator: FactorialRunningEmulator, fields: Record<string, string>) {
  return fetch(emulator.tokenUrl, {
    method: 'POST',
    body: new URLSearchParams({
      client_id: emulator.credentials.clientId,
      client_secret: emulator.credentials.clientSecret,
      ...fields,
    }),
  }).then((response) => readJson(response));
}

export interface Tokens {
  access_token: string;
  refresh_token: string;
  scope: string;
}

/** Authorize (auto consent) and exchange the code; both must succeed. */
export async function login(
  emulator: FactorialRunningEmulator,
  params: Record<string, string> = {},
): Promise<Tokens> {
  const query = await redirectQuery(await authorize(emulator, params));
  const code = query.get('code');
  assert.ok(code, `no code: ${query}`);
  const reply = await postToken(emulator, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: params.redirect_uri ?? CALLBACK,
  });
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  return reply.body as unknown as Tokens;
}

export function refresh(emulator: FactorialRunningEmulator, refreshToken: string) {
  return postToken(emulator, { grant_type: 'refresh_token', refresh_token: refreshToken });
}

export async function call<T = Record<string, unknown>>(
  emulator: FactorialRunningEmulator,
  path: string,
  auth: { bearer?: string; apiKey?: string },
  init: { method?: string; json?: unknown } = {},
): Promise<JsonReply<T>> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (auth.bearer !== undefined) headers.authorization = `Bearer ${auth.bearer}`;
  if (auth.apiKey !== undefined) headers['x-api-key'] = auth.apiKey;
  if (init.json !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${emulator.url}${path}`, {
    method: init.method ?? 'GET',
    headers,
    body: init.json === undefined ? undefined : JSON.stringify(init.json),
  });
  return readJson<T>(response);
}

export const newEmployee = (n: number) => ({
  first_name: 'Scope',
  last_name: `Tester ${n}`,
  email: `scope.${n}@example.com`,
});
