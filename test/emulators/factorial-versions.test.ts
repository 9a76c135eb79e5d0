import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { call, startFactorial } from './factorial-helpers.js';

const employees = (version: string) => `/api/${version}/resources/employees/employees?limit=1`;
const SERVED = 'x-emulator-api-version';

describe('Factorial dated API versions', () => {
  test('each supported quarterly version answers as itself, v2 too', async () => {
    const { emulator } = await startFactorial();
    const apiKey = emulator.credentials.apiKey;
    for (const version of ['2025-10-01', '2026-01-01', '2026-04-01', '2026-07-01', 'v2']) {
      const reply = await call(emulator, employees(version), { apiKey });
      assert.equal(reply.status, 200, version);
      assert.equal(reply.headers.get(SERVED), version);
    }
  });

  test('a retired version is served with the oldest supported version’s schema', async () => {
    const { emulator } = await startFactorial();
    const reply = await call(emulator, employees('2025-04-01'), { apiKey: emulator.credentials.apiKey });
    assert.equal(reply.status, 200);
    assert.equal(reply.headers.get(SERVED), '2025-10-01');
  });

  test('a date that was never released, or is yet to come, has no routes: 404', async () => {
    const { emulator } = await startFactorial();
    for (const version of ['2026-05-17', '2026-10-01', '2027-01-01']) {
      const reply = await call(emulator, employees(version), { apiKey: emulator.credentials.apiKey });
      assert.equal(reply.status, 404, version);
    }
    assert.equal(emulator.stats().apiRequests, 0, 'refused before authentication');
  });

  test('settings: the supported list, and retired versions refused with 404', async () => {
    const { emulator } = await startFactorial({
      apiVersions: ['2026-04-01', '2026-07-01'],
      retiredVersions: 'not-found',
    });
    const apiKey = emulator.credentials.apiKey;
    assert.equal((await call(emulator, employees('2026-04-01'), { apiKey })).status, 200);
    assert.equal((await call(emulator, employees('2026-01-01'), { apiKey })).status, 404);
    await assert.rejects(startFactorial({ apiVersions: ['2026-05-01'] }), /first day of a quarter/);
  });
});
