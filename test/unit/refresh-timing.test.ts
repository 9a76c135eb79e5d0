import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  defaultRefreshTiming,
  effectiveMarginMs,
  isFresh,
  refreshAt,
} from '../../src/refresh/refresh-timing.js';

const timing = { marginMs: 60_000, maxMarginFraction: 0.5, jitterFraction: 0.2 };

describe('refresh timing', () => {
  it('refreshes a long-lived token one margin before expiry', () => {
    const token = { obtainedAt: 0, expiresAt: 3600_000 };
    assert.equal(refreshAt(token, timing, 0), 3600_000 - 60_000);
  });

  it('clamps the margin to a fraction of a short lifetime, so a token is never stale at birth', () => {
    const token = { obtainedAt: 0, expiresAt: 30_000 };
    assert.equal(effectiveMarginMs(30_000, timing), 15_000);
    assert.equal(refreshAt(token, timing, 0), 15_000);
    assert.equal(isFresh(token, 1, timing), true);
  });

  it('adds at most jitterFraction of the margin, earlier never later', () => {
    const token = { obtainedAt: 0, expiresAt: 3600_000 };
    const earliest = refreshAt(token, timing, 0.999_999);
    assert.ok(earliest < 3600_000 - 60_000);
    assert.ok(earliest >= 3600_000 - 60_000 - 12_000);
  });

  it('never refreshes a token that never expires', () => {
    assert.equal(
      refreshAt({ obtainedAt: 0, expiresAt: null }, defaultRefreshTiming, 0.5),
      Number.POSITIVE_INFINITY,
    );
    assert.equal(isFresh({ obtainedAt: 0, expiresAt: null }, Number.MAX_SAFE_INTEGER, timing), true);
  });

  it('treats a token that is already past expiry as stale', () => {
    assert.equal(isFresh({ obtainedAt: 0, expiresAt: 10_000 }, 10_000, timing), false);
  });
});
