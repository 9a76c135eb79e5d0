/**
 * `tokenkeeper request` waits out a 429 or a 503 the way the library does, and says so as the
 * wait starts: a terminal that goes quiet for seconds looks like a hang.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FactusRunningEmulator } from '../../src/emulators/factus/factus-emulator.js';
import { type CliSandbox, startFactusCli } from '../helpers/cli.js';

describe('request says why it waits', () => {
  let factus: FactusRunningEmulator;
  let cli: CliSandbox;

  before(async () => {
    ({ emulator: factus, cli } = await startFactusCli());
  });
  after(async () => {
    await factus.stop();
    await cli.cleanup();
  });

  it('a 429 with Retry-After, then the answer', async () => {
    factus.faults.add({ point: 'api', status: 429, retryAfter: 1, count: 1 });
    const result = await cli.run(['request', 'acme', 'GET', '/v1/numbering-ranges']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, 'Factus answered 429; trying again in 1.0 s.\n');
    assert.equal(factus.stats().faults.api, 1);
    assert.equal(
      factus.stats().apiRequests,
      1,
      'sent again once, after the wait, and that one reached the API',
    );
  });

  it('a 503 to a GET, which is safe to repeat', async () => {
    factus.faults.add({ point: 'api', status: 503, retryAfter: 1, count: 1 });
    const result = await cli.run(['request', 'acme', 'GET', '/v1/numbering-ranges']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, 'Factus answered 503; trying again in 1.0 s.\n');
  });

  it('nothing is said when nothing is waited for', async () => {
    const result = await cli.run(['request', 'acme', 'GET', '/v1/numbering-ranges']);
    assert.deepEqual([result.code, result.stderr], [0, '']);
  });
});
