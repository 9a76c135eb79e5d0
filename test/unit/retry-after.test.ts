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
  it('returns undefined when nothing says when', () => {
    assert.equal(parseRetryAfter(new Headers(), now), undefined);
    assert.equal(parseRetryAfter(new Headers({ 'retry-after': 'soon' }), now), undefined);
  });
});
