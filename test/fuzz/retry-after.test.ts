/**
 * Properties of parseRetryAfter: whatever Retry-After, RateLimit-Reset and X-RateLimit-Reset
 * say, the answer is undefined or a finite delay a timer can be computed from; each form the
 * parser knows reads back exactly.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRetryAfter } from '../../src/http/retry-after.js';
import { fc, fuzzParams } from './fuzz-settings.js';

/** Characters a header value may hold (a ByteString without CR, LF or NUL), printable ones most often. */
const headerChar = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0x20, max: 0x7e }) },
  { weight: 1, arbitrary: fc.constantFrom(0x09, 0x80, 0xa0, 0xff) },
  { weight: 1, arbitrary: fc.constantFrom(...'0123456789'.split('').map((c) => c.charCodeAt(0))) },
);
const headerText = fc.string({ unit: headerChar.map((code) => String.fromCharCode(code)), maxLength: 40 });

const headerValue = fc.oneof(
  headerText,
  fc.bigInt({ min: 0n, max: 10n ** 30n }).map(String),
  fc.nat({ max: 4_000_000_000 }).map(String),
  fc.integer({ min: -8.64e15, max: 8.64e15 }).map((ms) => new Date(ms).toUTCString()),
  fc.constantFrom('9'.repeat(400), '-1', '1.5', '1e3', ' 7 ', 'Wed, 21 Oct 2015 07:28:00 GMT', '0'),
);

const nowArb = fc.integer({ min: 0, max: 4_102_444_800_000 });

function headersOf(values: Record<string, string | undefined>): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(values)) if (value !== undefined) headers.set(name, value);
  return headers;
}

describe('fuzz: parseRetryAfter', () => {
  it('gives undefined or a finite, non-negative delay for any header values', () => {
    fc.assert(
      fc.property(
        fc.record(
          {
            'retry-after': headerValue,
            'ratelimit-reset': headerValue,
            'x-ratelimit-reset': headerValue,
          },
          { requiredKeys: [] },
        ),
        nowArb,
        (values, now) => {
          const delay = parseRetryAfter(headersOf(values), now);
          if (Object.keys(values).length === 0) assert.equal(delay, undefined);
          if (delay === undefined) return;
          assert.ok(Number.isFinite(delay) && delay >= 0, `delay ${delay}`);
          assert.ok(Number.isFinite(Math.ceil(delay / 1000)));
        },
      ),
      fuzzParams(1000),
    );
  });

  it('reads delay-seconds exactly, and Retry-After wins over the reset headers', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 10 * 365 * 86_400 }),
        fc.option(headerValue, { nil: undefined }),
        fc.option(headerValue, { nil: undefined }),
        nowArb,
        (seconds, rateLimitReset, xReset, now) => {
          const headers = headersOf({
            'retry-after': String(seconds),
            'ratelimit-reset': rateLimitReset,
            'x-ratelimit-reset': xReset,
          });
          assert.equal(parseRetryAfter(headers, now), seconds * 1000);
        },
      ),
      fuzzParams(300),
    );
  });

  it('reads an HTTP date as the time left until it, never negative', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -20 * 365 * 86_400_000, max: 20 * 365 * 86_400_000 }),
        nowArb,
        (offsetMs, now) => {
          const date = new Date(now + offsetMs);
          const whole = Math.floor(date.getTime() / 1000) * 1000; // an HTTP date has whole seconds
          const headers = headersOf({ 'retry-after': date.toUTCString() });
          assert.equal(parseRetryAfter(headers, now), Math.max(0, whole - now));
        },
      ),
      fuzzParams(300),
    );
  });

  it('reads RateLimit-Reset as delay-seconds when Retry-After says nothing usable', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 10 * 365 * 86_400 }),
        fc.option(fc.constantFrom('', '   ', 'soon', 'later'), { nil: undefined }),
        fc.option(headerValue, { nil: undefined }),
        nowArb,
        (seconds, retryAfter, xReset, now) => {
          const headers = headersOf({
            'retry-after': retryAfter,
            'ratelimit-reset': String(seconds),
            'x-ratelimit-reset': xReset,
          });
          assert.equal(parseRetryAfter(headers, now), seconds * 1000);
        },
      ),
      fuzzParams(300),
    );
  });
});
