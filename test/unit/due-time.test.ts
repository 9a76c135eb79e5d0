import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dueAtOf, type KeepAlivePolicy } from '../../src/serve/due-time.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const policy: KeepAlivePolicy = {
  refreshTiming: { marginMs: 60_000, maxMarginFraction: 0.5, jitterFraction: 0.2 },
  minRefreshIntervalMs: 1_000,
  keepaliveMs: DAY,
  keepaliveJitterFraction: 0.1,
};
const T = Date.UTC(2026, 0, 1);
const ok = { state: 'ok', grant: 'authorization_code', obtainedAt: T, hasRefreshToken: true };

describe('dueAtOf', () => {
  it('refreshes an access token a margin before it expires', () => {
    assert.equal(dueAtOf({ ...ok, expiresAt: T + HOUR }, undefined, policy, 0), T + HOUR - 60_000);
    // Jitter only ever moves it earlier.
    assert.equal(dueAtOf({ ...ok, expiresAt: T + HOUR }, undefined, policy, 0.5), T + HOUR - 66_000);
  });

  it('keeps a refresh token alive: every --keepalive, or within half its lifetime if that is sooner', () => {
    const longToken = { ...ok, expiresAt: T + 30 * DAY };
    assert.equal(dueAtOf(longToken, 7 * DAY, policy, 0), T + DAY);
    assert.equal(dueAtOf(longToken, 7 * DAY, { ...policy, keepaliveMs: 30 * DAY }, 0), T + 3.5 * DAY);
    assert.equal(dueAtOf(longToken, 7 * DAY, policy, 0.5), T + DAY * 0.95);
    // Without a refresh token there is nothing to keep alive.
    assert.equal(
      dueAtOf({ ...longToken, hasRefreshToken: false }, 7 * DAY, policy, 0),
      T + 30 * DAY - 60_000,
    );
  });

  it('is a whole millisecond, never earlier than the exact instant (due indexes keep integers)', () => {
    const due = dueAtOf({ ...ok, expiresAt: T + HOUR }, undefined, policy, 0.123_456_7);
    assert.ok(due !== undefined && Number.isInteger(due));
    const exact = T + HOUR - 60_000 * (1 + 0.2 * 0.123_456_7);
    assert.ok(due >= exact && due - exact < 1);
  });

  it('keeps alive a token that never expires when it has a refresh token, and nothing else', () => {
    assert.equal(dueAtOf({ ...ok, expiresAt: null }, 7 * DAY, policy, 0), T + DAY);
    assert.equal(dueAtOf({ ...ok, expiresAt: null, hasRefreshToken: false }, 7 * DAY, policy, 0), undefined);
  });

  it('schedules nothing for a connection that needs a login, an API key, or one without tokens', () => {
    assert.equal(
      dueAtOf({ ...ok, expiresAt: T + HOUR, state: 'reauth_required' }, undefined, policy, 0),
      undefined,
    );
    assert.equal(dueAtOf({ ...ok, expiresAt: null, grant: 'api_key' }, undefined, policy, 0), undefined);
    assert.equal(dueAtOf({ state: 'ok', grant: 'password' }, undefined, policy, 0), undefined);
  });

  it('waits out a back-off recorded in the store, and never comes back within the least interval', () => {
    const backoff = { until: T + 2 * HOUR, failures: 1, code: 'NETWORK', message: '' };
    assert.equal(dueAtOf({ ...ok, expiresAt: T + HOUR, backoff }, undefined, policy, 0), T + 2 * HOUR);
    // expires_in: 0: due at once would mean a loop; the least interval applies.
    assert.equal(dueAtOf({ ...ok, expiresAt: T }, undefined, policy, 0), T + 1_000);
  });
});
