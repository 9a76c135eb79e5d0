/** What a fault rule does to a request, over real loopback HTTP against the Factus emulator. */
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, describe, test } from 'node:test';
import { FAULT_BODIES } from '../../src/emulators/core/fault-rule.js';
import {
  type FactusRunningEmulator,
  startFactusEmulator,
} from '../../src/emulators/factus/factus-emulator.js';
import { addFault, faultStats } from './faults-helpers.js';
import { callApi, login, passwordFields } from './helpers.js';

const running: FactusRunningEmulator[] = [];
after(() => Promise.all(running.map((emulator) => emulator.stop())));

async function start() {
  const emulator = await startFactusEmulator({ accessTtlSeconds: 900 });
  running.push(emulator);
  return emulator;
}

/** A raw token request, so the test can read a body that is not JSON. */
function tokenRequest(emulator: FactusRunningEmulator): Promise<Response> {
  return fetch(emulator.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(passwordFields(emulator.credentials)),
  });
}

// setTimeout may fire up to a millisecond before performance.now() says the delay is over.
const TIMER_SLACK_MS = 2;

describe('fault effects', () => {
  test('status answers with that status instead of reaching the endpoint', async () => {
    const emulator = await start();
    const id = await addFault(emulator, { point: 'token', status: 503, count: 1 });
    const response = await tokenRequest(emulator);
    assert.equal(response.status, 503);
    assert.equal(response.headers.get('x-emulator-fault'), id);
    assert.equal(response.headers.get('retry-after'), null);
    const body = (await response.json()) as Record<string, unknown>;
    assert.match(body.message as string, /Service Unavailable/);
    assert.equal('error' in body, false, 'no OAuth error code a client could act on');
    assert.equal(emulator.stats().tokenRequests.total, 0, 'the endpoint never saw it');
  });

  test('retryAfter sets Retry-After: seconds, or an HTTP date as given', async () => {
    const emulator = await start();
    await addFault(emulator, { point: 'token', status: 429, retryAfter: 2, count: 1 });
    const date = 'Wed, 21 Oct 2026 07:28:00 GMT';
    await addFault(emulator, { point: 'token', status: 503, retryAfter: date, count: 1 });
    const seconds = await tokenRequest(emulator);
    assert.equal(seconds.status, 429);
    assert.equal(seconds.headers.get('retry-after'), '2');
    const dated = await tokenRequest(emulator);
    assert.equal(dated.status, 503);
    assert.equal(dated.headers.get('retry-after'), date);
  });

  test('delayMs on its own waits, then passes the request on', async () => {
    const emulator = await start();
    const delayMs = 300;
    await addFault(emulator, { point: 'token', delayMs, count: 1 });
    const started = performance.now();
    const response = await tokenRequest(emulator);
    const elapsed = performance.now() - started;
    assert.equal(response.status, 200);
    assert.equal(typeof ((await response.json()) as Record<string, unknown>).access_token, 'string');
    assert.ok(elapsed >= delayMs - TIMER_SLACK_MS, `waited ${elapsed} ms`);
    assert.equal(emulator.stats().tokenRequests.total, 1, 'the endpoint answered it');
  });

  test('delayMs with status waits, then answers with the status', async () => {
    const emulator = await start();
    const { access_token: token } = await login(emulator);
    const delayMs = 250;
    await addFault(emulator, { point: 'api', delayMs, status: 504, count: 1 });
    const started = performance.now();
    const reply = await callApi(emulator, token, '/v1/bills');
    const elapsed = performance.now() - started;
    assert.equal(reply.status, 504);
    assert.ok(elapsed >= delayMs - TIMER_SLACK_MS, `waited ${elapsed} ms`);
    assert.equal(emulator.stats().apiRequests, 0);
  });

  test('reset drops the connection: a fetch client gets a socket error, the next request works', async () => {
    const emulator = await start();
    await addFault(emulator, { point: 'token', reset: true, count: 1 });
    await assert.rejects(tokenRequest(emulator), (error: Error & { cause?: { code?: string } }) => {
      assert.equal(error.name, 'TypeError');
      assert.equal(error.cause?.code, 'ECONNRESET');
      return true;
    });
    assert.equal((await tokenRequest(emulator)).status, 200);
    assert.equal((await faultStats(emulator)).token, 1);
  });

  test('reset on the API, after a delay', async () => {
    const emulator = await start();
    const { access_token: token } = await login(emulator);
    await addFault(emulator, { point: 'api', reset: true, delayMs: 50, count: 1 });
    await assert.rejects(callApi(emulator, token, '/v1/bills'), TypeError);
    assert.equal((await callApi(emulator, token, '/v1/bills')).status, 200);
  });

  for (const kind of FAULT_BODIES) {
    test(`body "${kind}" with a status replaces the answer's body`, async () => {
      const emulator = await start();
      await addFault(emulator, { point: 'token', status: 502, body: kind, count: 1 });
      const response = await tokenRequest(emulator);
      assert.equal(response.status, 502);
      assertJunk(kind, response.headers.get('content-type'), await response.text());
    });

    test(`body "${kind}" alone keeps the endpoint's status and replaces its body`, async () => {
      const emulator = await start();
      const { access_token: token } = await login(emulator);
      await addFault(emulator, { point: 'api', body: kind, count: 1 });
      const response = await fetch(`${emulator.url}/v1/bills`, {
        headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
      });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('x-ratelimit-limit'), '80', "the endpoint's other headers stay");
      assertJunk(kind, response.headers.get('content-type'), await response.text());
      assert.equal(emulator.stats().apiRequests, 1);
    });
  }

  test('body "invalid-json" is the first half of the answer the request would have had', async () => {
    const emulator = await start();
    const { access_token: token } = await login(emulator);
    const headers = { authorization: `Bearer ${token}`, accept: 'application/json' };
    const whole = await (await fetch(`${emulator.url}/v1/numbering-ranges`, { headers })).text();
    await addFault(emulator, { point: 'api', body: 'invalid-json', count: 1 });
    const cut = await (await fetch(`${emulator.url}/v1/numbering-ranges`, { headers })).text();
    assert.ok(
      cut.length > 0 && cut.length < whole.length,
      `cut to ${cut.length} of ${whole.length} characters`,
    );
    assert.equal(whole.slice(0, cut.length), cut);
    assert.throws(() => JSON.parse(cut), SyntaxError);

    await addFault(emulator, { point: 'token', status: 503, body: 'invalid-json', count: 1 });
    const injected = await (await tokenRequest(emulator)).text();
    assert.match(injected, /^\{"message":"Service/, 'the start of the injected answer');
    assert.doesNotMatch(injected, /access_token/, 'no token-shaped text where no token was answered');
  });

  test('expiresIn makes the token answer carry that expires_in, once per count', async () => {
    const emulator = await start();
    await addFault(emulator, { point: 'token', expiresIn: 0, count: 1 });
    const first = (await (await tokenRequest(emulator)).json()) as Record<string, unknown>;
    assert.equal(first.expires_in, 0);
    assert.equal(typeof first.access_token, 'string');
    assert.equal(typeof first.refresh_token, 'string');
    const second = (await (await tokenRequest(emulator)).json()) as Record<string, unknown>;
    assert.equal(second.expires_in, 900);
  });

  test('expiresIn leaves an error answer alone', async () => {
    const emulator = await start();
    await addFault(emulator, { point: 'token', expiresIn: 5 });
    const response = await fetch(emulator.tokenUrl, {
      method: 'POST',
      body: new URLSearchParams({ ...passwordFields(emulator.credentials), password: 'wrong' }),
    });
    assert.equal(response.status, 400);
    const body = (await response.json()) as Record<string, unknown>;
    assert.equal(body.error, 'invalid_grant');
    assert.equal('expires_in' in body, false);
  });
});

function assertJunk(kind: (typeof FAULT_BODIES)[number], contentType: string | null, text: string): void {
  switch (kind) {
    case 'html':
      assert.match(contentType ?? '', /^text\/html/);
      assert.match(text, /^<!DOCTYPE html>/);
      break;
    case 'invalid-json':
      assert.match(contentType ?? '', /^application\/json/);
      assert.notEqual(text, '');
      assert.throws(() => JSON.parse(text), SyntaxError);
      break;
    case 'empty':
      assert.equal(text, '');
      break;
  }
}
