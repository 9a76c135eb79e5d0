/** How long a fault rule applies (count, ratio, forMs, until cleared), and managing rules over HTTP. */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { FakeClock } from '../../src/clock.js';
import {
  type FactusEmulatorOptions,
  type FactusRunningEmulator,
  startFactusEmulator,
} from '../../src/emulators/factus/factus-emulator.js';
import { addFault, faultStats, listFaults, seededRandom } from './faults-helpers.js';
import { callApi, login, passwordFields, postToken, readJson } from './helpers.js';

const running: FactusRunningEmulator[] = [];
after(() => Promise.all(running.map((emulator) => emulator.stop())));

async function start(options: FactusEmulatorOptions = {}) {
  const clock = new FakeClock(Date.UTC(2026, 0, 1, 12, 0, 0));
  const emulator = await startFactusEmulator({
    now: () => clock.now(),
    rateLimitPerMinute: 1000,
    ...options,
  });
  running.push(emulator);
  return { emulator, clock };
}

async function tokenStatus(emulator: FactusRunningEmulator): Promise<number> {
  return (await postToken(emulator, passwordFields(emulator.credentials))).status;
}

describe('fault rule durations', () => {
  test('count: 3 affects exactly the next 3 matching requests, then stops', async () => {
    const { emulator } = await start();
    const id = await addFault(emulator, { point: 'token', status: 503, count: 3 });
    const statuses: number[] = [];
    for (let index = 0; index < 5; index += 1) statuses.push(await tokenStatus(emulator));
    assert.deepEqual(statuses, [503, 503, 503, 200, 200]);

    const [rule] = await listFaults(emulator);
    assert.equal(rule?.id, id);
    assert.equal(rule?.remaining, 0);
    assert.equal(rule?.applied, 3);
    assert.equal(rule?.active, false);
    assert.equal((await faultStats(emulator)).token, 3);
  });

  test('count holds under concurrent requests: 10 at once, exactly 3 affected', async () => {
    const { emulator } = await start();
    await addFault(emulator, { point: 'token', status: 503, count: 3 });
    const statuses = await Promise.all(Array.from({ length: 10 }, () => tokenStatus(emulator)));
    assert.equal(statuses.filter((status) => status === 503).length, 3);
    assert.equal(statuses.filter((status) => status === 200).length, 7);
  });

  test('a rule only matches its point: a token rule leaves the API alone and keeps its count', async () => {
    const { emulator } = await start();
    const { access_token: token } = await login(emulator);
    await addFault(emulator, { point: 'token', status: 500, count: 1 });
    assert.equal((await callApi(emulator, token, '/v1/bills')).status, 200);
    assert.equal(await tokenStatus(emulator), 500);
    assert.deepEqual(await faultStats(emulator), { total: 1, token: 1, api: 0 });
  });

  test('ratio with a seeded random affects the subset the same seed predicts', async () => {
    const seed = 20_260_101;
    const { emulator } = await start({ random: seededRandom(seed) });
    const { access_token: token } = await login(emulator);
    const ratio = 0.3;
    await addFault(emulator, { point: 'api', status: 503, ratio });

    const requests = 40;
    const replay = seededRandom(seed);
    const expected = Array.from({ length: requests }, () => (replay() < ratio ? 503 : 200));
    const actual: number[] = [];
    for (let index = 0; index < requests; index += 1) {
      actual.push((await callApi(emulator, token, '/v1/bills')).status);
    }
    assert.deepEqual(actual, expected);
    const affected = expected.filter((status) => status === 503).length;
    assert.ok(affected > 0 && affected < requests, 'the seed picks a proper subset');
    assert.equal((await faultStats(emulator)).api, affected);
  });

  test('count and ratio together: the count is spent only on requests the draw picks', async () => {
    const seed = 7;
    const { emulator } = await start({ random: seededRandom(seed) });
    await addFault(emulator, { point: 'token', status: 502, ratio: 0.5, count: 2 });
    const replay = seededRandom(seed);
    let left = 2;
    const expected: number[] = [];
    for (let index = 0; index < 12; index += 1) {
      // Once the count is spent the rule is over and draws no more.
      const hit = left > 0 && replay() < 0.5;
      if (hit) left -= 1;
      expected.push(hit ? 502 : 200);
    }
    const actual: number[] = [];
    for (let index = 0; index < 12; index += 1) actual.push(await tokenStatus(emulator));
    assert.deepEqual(actual, expected);
    assert.equal(actual.filter((status) => status === 502).length, 2);
  });

  test('forMs: applies until that much of the emulator clock has passed', async () => {
    const { emulator, clock } = await start();
    const { access_token: token } = await login(emulator);
    await addFault(emulator, { point: 'api', status: 503, forMs: 10_000 });
    assert.equal((await callApi(emulator, token, '/v1/bills')).status, 503);
    await clock.advance(9_999);
    assert.equal((await callApi(emulator, token, '/v1/bills')).status, 503);
    const [live] = await listFaults(emulator);
    assert.equal(live?.remainingMs, 1);
    assert.equal(live?.active, true);

    await clock.advance(1);
    assert.equal((await callApi(emulator, token, '/v1/bills')).status, 200);
    const [over] = await listFaults(emulator);
    assert.equal(over?.remainingMs, 0);
    assert.equal(over?.active, false);
    assert.equal((await faultStats(emulator)).api, 2);
  });

  test('forMs is timed without the clock skew', async () => {
    const { emulator } = await start();
    await addFault(emulator, { point: 'token', status: 503, forMs: 60_000 });
    emulator.setClockSkew(3_600_000);
    assert.equal(await tokenStatus(emulator), 503);
  });

  test('without count, ratio or forMs a rule applies until it is cleared', async () => {
    const { emulator } = await start();
    await addFault(emulator, { point: 'token', status: 429 });
    for (let index = 0; index < 6; index += 1) assert.equal(await tokenStatus(emulator), 429);
    const [rule] = await listFaults(emulator);
    assert.equal(rule?.applied, 6);
    assert.equal('remaining' in (rule ?? {}), false);

    const cleared = await fetch(`${emulator.url}/__emulator/faults`, { method: 'DELETE' });
    assert.equal(cleared.status, 204);
    assert.deepEqual(await listFaults(emulator), []);
    assert.equal(await tokenStatus(emulator), 200);
  });
});

describe('managing fault rules', () => {
  test('rules are tried in the order added; the first live one is applied alone', async () => {
    const { emulator } = await start();
    await addFault(emulator, { point: 'token', status: 503, count: 1 });
    await addFault(emulator, { point: 'token', status: 500, count: 2 });
    const statuses: number[] = [];
    for (let index = 0; index < 4; index += 1) statuses.push(await tokenStatus(emulator));
    assert.deepEqual(statuses, [503, 500, 500, 200]);
    assert.equal((await faultStats(emulator)).total, 3);
  });

  test('GET lists every rule with its fields and what is left; DELETE /{id} clears one', async () => {
    const { emulator } = await start();
    const first = await addFault(emulator, { point: 'token', status: 503, retryAfter: 2, count: 3 });
    const second = await addFault(emulator, { point: 'api', delayMs: 10, forMs: 5_000 });
    assert.notEqual(first, second);

    const listed = await readJson(await fetch(`${emulator.url}/__emulator/faults`));
    assert.equal(listed.headers.get('cache-control'), 'no-store');
    assert.deepEqual(listed.body, {
      rules: [
        {
          id: first,
          point: 'token',
          status: 503,
          retryAfter: 2,
          count: 3,
          applied: 0,
          remaining: 3,
          active: true,
        },
        { id: second, point: 'api', delayMs: 10, forMs: 5_000, applied: 0, remainingMs: 5_000, active: true },
      ],
    });

    const removed = await fetch(`${emulator.url}/__emulator/faults/${first}`, { method: 'DELETE' });
    assert.equal(removed.status, 204);
    assert.deepEqual(
      (await listFaults(emulator)).map((rule) => rule.id),
      [second],
    );
    assert.equal(await tokenStatus(emulator), 200);
  });

  test('DELETE /{id} of an unknown rule is a 404 JSON error', async () => {
    const { emulator } = await start();
    const reply = await readJson(
      await fetch(`${emulator.url}/__emulator/faults/fault-404`, { method: 'DELETE' }),
    );
    assert.equal(reply.status, 404);
    assert.equal(reply.body.error, 'unknown_fault_rule');
    assert.match(reply.body.message as string, /fault-404/);
  });

  test('DELETE /__emulator/faults/ with an empty id clears nothing: 404', async () => {
    const { emulator } = await start();
    await addFault(emulator, { point: 'token', status: 503 });
    const reply = await readJson(await fetch(`${emulator.url}/__emulator/faults/`, { method: 'DELETE' }));
    assert.equal(reply.status, 404);
    assert.equal(reply.body.error, 'unknown_fault_rule');
    assert.match(reply.body.message as string, /DELETE \/__emulator\/faults \(no slash\) clears every rule/);
    assert.equal(emulator.faults.list().length, 1);
  });

  test('POST /__emulator/reset zeroes the fault counters and keeps the rules', async () => {
    const { emulator } = await start();
    await addFault(emulator, { point: 'token', status: 503 });
    assert.equal(await tokenStatus(emulator), 503);
    assert.deepEqual(await faultStats(emulator), { total: 1, token: 1, api: 0 });

    assert.equal((await fetch(`${emulator.url}/__emulator/reset`, { method: 'POST' })).status, 204);
    assert.deepEqual(await faultStats(emulator), { total: 0, token: 0, api: 0 });
    assert.equal((await listFaults(emulator)).length, 1);
    assert.equal(await tokenStatus(emulator), 503);
    assert.equal(emulator.stats().faults.total, 1);
  });
});
