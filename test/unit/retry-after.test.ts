import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRetryAfter } from '../../src/http/retry-after.js';

const now = Date.UTC(2026, 0, 1, 0, 0, 0);

describe('parseRetryAfter', () => {
  it('reads delay-seconds', () => {
    assert.equal(parseRetryAfter(new Headers({ 'retry-after': '7' }), now), 7000);
  });
  it('reads an HTTP date', () => {
    const date = new Date(now + 12_000).toUTCString();
    assert.equal(parseRetryAfter(new Headers({ 'retry-after': date }), now), 12_000);
  });
  it('never returns a negative delay for a date in the past', () => {
    assert.equal(parseRetryAfter(new Headers({ 'retry-after': new Date(now - 5000).toUTCString() }), now), 0);
  });
  it('falls back to an X-RateLimit-Reset epoch timestamp', () => {
    const reset = String(Math.floor(now / 1000) + 30);
    assert.equal(parseRetryAfter(new Headers({ 'x-ratelimit-reset': reset }), now), 30_000);
  });
  it('reads a RateLimit-Reset delay in seconds (IETF RateLimit header fields)', () => {
    assert.equal(parseRetryAfter(new Headers({ 'ratelimit-reset': '42' }), now), 42_000);
    assert.equal(parseRetryAfter(new Headers({ 'ratelimit-reset': ' 0 ' }), now), 0);
  });
  it('prefers Retry-After, then RateLimit-Reset, then X-RateLimit-Reset', () => {
    const epochIn30s = String(Math.floor(now / 1000) + 30);
    assert.equal(
      parseRetryAfter(
        new Headers({ 'retry-after': '5', 'ratelimit-reset': '10', 'x-ratelimit-reset': epochIn30s }),
        now,
      ),
      5000,
    );
    assert.equal(
      parseRetryAfter(new Headers({ 'ratelimit-reset': '10', 'x-ratelimit-reset': epochIn30s }), now),
      10_000,
    );
    assert.equal(
      parseRetryAfter(new Headers({ 'retry-after': 'soon', 'ratelimit-reset': '10' }), now),
      10_000,
    );
  });
  it('ignores a RateLimit-Reset that is not a number of seconds', () => {
    for (const value of ['-5', '1.5', 'soon', '']) {
      assert.equal(parseRetryAfter(new Headers({ 'ratelimit-reset': value }), now), undefined);
    }
  });
  it('caps an absurdly long delay instead of returning Infinity', () => {
    // Found by the fuzz suite: 400 nines overflowed to Infinity ("try again in Infinity s").
    const huge = '9'.repeat(400);
    for (const name of ['retry-after', 'ratelimit-reset', 'x-ratelimit-reset']) {
      const delay = parseRetryAfter(new Headers({ [name]: huge }), now);
      assert.ok(delay !== undefined && Number.isFinite(delay) && delay > 0, `${name}: ${delay}`);
    }
  });
  it('returns undefined when nothing says when', () => {
    assert.equal(parseRetryAfter(new Headers(), now), undefined);
    assert.equal(parseRetryAfter(new Headers({ 'retry-after': 'soon' }), now), undefined);
  });
});
