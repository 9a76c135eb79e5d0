/**
 * Fault points only Factorial has (authorize, revoke), the clock skew on both emulators,
 * and the programmatic handle (`emulator.faults`, `emulator.setClockSkew`).
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { FakeClock } from '../../src/clock.js';
import {
  type FactorialRunningEmulator,
  startFactorialEmulator,
} from '../../src/emulators/factorial/factorial-emulator.js';
import { startFactusEmulator } from '../../src/emulators/factus/factus-emulator.js';
import { addFault, faultStats, listFaults } from './faults-helpers.js';
import { callApi, decodeJwtPart, login, readJson } from './helpers.js';

const START = Date.UTC(2026, 0, 1, 12, 0, 0);
const CALLBACK = 'http://127.0.0.1:8765/callback';
const ME = '/api/2026-07-01/resources/api_public/credentials';

const running: { stop(): Promise<void> }[] = [];
after(() => Promise.all(running.map((emulator) => emulator.stop())));

async function startFactorial() {
  const clock = new FakeClock(START);
  const emulator = await startFactorialEmulator({ now: () => clock.now() });
  running.push(emulator);
  return { emulator, clock };
}

async function startFactus(accessTtlSeconds = 3600) {
  const clock = new FakeClock(START);
  const emulator = await startFactusEmulator({ now: () => clock.now(), accessTtlSeconds });
  running.push(emulator);
  return { emulator, clock };
}

function authorize(emulator: FactorialRunningEmulator): Promise<Response> {
  const url = new URL(emulator.authorizeUrl);
  url.search = new URLSearchParams({
    client_id: emulator.credentials.clientId,
    redirect_uri: CALLBACK,
    response_type: 'code',
  }).toString();
  return fetch(url, { redirect: 'manual' });
}

async function exchange(emulator: FactorialRunningEmulator): Promise<Record<string, unknown>> {
  const redirect = await authorize(emulator);
  assert.equal(redirect.status, 302);
  const code = new URL(redirect.headers.get('location') ?? '').searchParams.get('code') ?? '';
  const reply = await readJson(
    await fetch(emulator.tokenUrl, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        client_id: emulator.credentials.clientId,
        client_secret: emulator.credentials.clientSecret,
        code,
        redirect_uri: CALLBACK,
      }),
    }),
  );
  assert.equal(reply.status, 200);
  return reply.body;
}

function revoke(emulator: FactorialRunningEmulator, token: string): Promise<Response> {
  return fetch(emulator.revokeUrl, {
    method: 'POST',
    body: new URLSearchParams({
      client_id: emulator.credentials.clientId,
      client_secret: emulator.credentials.clientSecret,
      token,
    }),
  });
}

function factorialApi(emulator: FactorialRunningEmulator, token: string): Promise<Response> {
  return fetch(`${emulator.url}${ME}`, { headers: { authorization: `Bearer ${token}` } });
}

describe('Factorial fault points', () => {
  test('authorize: a rule answers the authorization endpoint', async () => {
    const { emulator } = await startFactorial();
    await addFault(emulator, { point: 'authorize', status: 500, body: 'html', count: 1 });
    const faulted = await authorize(emulator);
    assert.equal(faulted.status, 500);
    assert.match(await faulted.text(), /^<!DOCTYPE html>/);
    assert.equal((await authorize(emulator)).status, 302);
    assert.equal(emulator.stats().authorizations, 1, 'only the second request reached the endpoint');
  });

  test('revoke: a reset drops the revocation request, and the token stays valid', async () => {
    const { emulator } = await startFactorial();
    const tokens = await exchange(emulator);
    await addFault(emulator, { point: 'revoke', reset: true, count: 1 });
    await assert.rejects(revoke(emulator, tokens.access_token as string), TypeError);
    assert.equal((await factorialApi(emulator, tokens.access_token as string)).status, 200);
    assert.equal((await revoke(emulator, tokens.access_token as string)).status, 200);
    assert.equal((await factorialApi(emulator, tokens.access_token as string)).status, 401);
  });

  test('the stats count applied faults per point', async () => {
    const { emulator } = await startFactorial();
    const tokens = await exchange(emulator);
    await addFault(emulator, { point: 'api', status: 503, count: 2 });
    await addFault(emulator, { point: 'revoke', status: 500, count: 1 });
    await addFault(emulator, { point: 'authorize', status: 502, count: 1 });
    await factorialApi(emulator, tokens.access_token as string);
    await factorialApi(emulator, tokens.access_token as string);
    await revoke(emulator, tokens.access_token as string);
    await authorize(emulator);
    assert.deepEqual(await faultStats(emulator), { total: 4, token: 0, api: 2, authorize: 1, revoke: 1 });
  });

  test('expiresIn on the authorization-code exchange', async () => {
    const { emulator } = await startFactorial();
    await addFault(emulator, { point: 'token', expiresIn: 0, count: 1 });
    const tokens = await exchange(emulator);
    assert.equal(tokens.expires_in, 0);
    assert.equal(typeof tokens.refresh_token, 'string');
  });
});

describe('clock skew', () => {
  test('POST /__emulator/clock skews what Factus issues and how it judges expiry', async () => {
    const { emulator } = await startFactus(600);
    const { access_token: token } = await login(emulator);
    assert.equal(decodeJwtPart(token, 1).iat, START / 1000);

    const skewMs = 601_000;
    const set = await readJson(
      await fetch(`${emulator.url}/__emulator/clock`, { method: 'POST', body: JSON.stringify({ skewMs }) }),
    );
    assert.equal(set.status, 200);
    assert.deepEqual(set.body, { skewMs, now: new Date(START + skewMs).toISOString() });
    assert.deepEqual((await readJson(await fetch(`${emulator.url}/__emulator/clock`))).body, set.body);

    assert.equal((await callApi(emulator, token, '/v1/bills')).status, 401, 'expired by the skewed clock');
    const { access_token: skewed } = await login(emulator);
    assert.equal(decodeJwtPart(skewed, 1).iat, (START + skewMs) / 1000);
    assert.equal((await callApi(emulator, skewed, '/v1/bills')).status, 200);

    const undo = await fetch(`${emulator.url}/__emulator/clock`, {
      method: 'POST',
      body: JSON.stringify({ skewMs: 0 }),
    });
    assert.equal(((await undo.json()) as Record<string, unknown>).skewMs, 0);
    assert.equal((await callApi(emulator, token, '/v1/bills')).status, 200);
  });

  test('a clock running behind: Factorial dates created_at in the past', async () => {
    const { emulator } = await startFactorial();
    const skewMs = -90_000;
    assert.equal(emulator.setClockSkew(skewMs), skewMs);
    const tokens = await exchange(emulator);
    assert.equal(tokens.created_at, (START + skewMs) / 1000);
    assert.equal(tokens.expires_in, 7200);
  });

  test('POST /__emulator/reset keeps the skew', async () => {
    const { emulator } = await startFactus();
    emulator.setClockSkew(5_000);
    await fetch(`${emulator.url}/__emulator/reset`, { method: 'POST' });
    const state = await readJson(await fetch(`${emulator.url}/__emulator/clock`));
    assert.equal(state.body.skewMs, 5_000);
  });
});

describe('emulator.faults, for library users', () => {
  test('add, list, remove and clear, visible over HTTP too', async () => {
    const { emulator } = await startFactus();
    const id = emulator.faults.add({ point: 'token', status: 503, count: 2 });
    const [listed] = await listFaults(emulator);
    assert.equal(listed?.id, id);
    assert.equal(listed?.remaining, 2);
    assert.equal((await fetch(emulator.tokenUrl, { method: 'POST' })).status, 503);
    assert.equal(emulator.faults.list()[0]?.remaining, 1);

    assert.equal(emulator.faults.remove(id), true);
    assert.equal(emulator.faults.remove(id), false);
    assert.equal(
      (await fetch(emulator.tokenUrl, { method: 'POST' })).status,
      400,
      'back to the real endpoint',
    );

    emulator.faults.add({ point: 'api', status: 500 });
    emulator.faults.add({ point: 'token', status: 500 });
    emulator.faults.clear();
    assert.deepEqual(await listFaults(emulator), []);
  });
});
