import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type FixedWindows, fixedWindowsFor } from '../../src/store/fixed-windows.js';

/**
 * Sends requests as rate-limiter-flexible's fixed windows allow them (a window opens with
 * the first request after the previous one closed), at times drawn by `nextGap`, and
 * returns the send times.
 */
type Gap = (state: { inWindow: number; windowIndex: number }) => number;

function sendTimes(windows: FixedWindows, nextGap: Gap, count: number): number[] {
  const sent: number[] = [];
  let windowStart = Number.NEGATIVE_INFINITY;
  let windowIndex = -1;
  let inWindow = 0;
  let now = 0;
  while (sent.length < count) {
    now += nextGap({ inWindow, windowIndex });
    if (now >= windowStart + windows.durationMs) {
      windowStart = now;
      windowIndex++;
      inWindow = 0;
    }
    if (inWindow < windows.points) {
      inWindow++;
      sent.push(now);
    } else {
      now = windowStart + windows.durationMs; // wait for the window to close
    }
  }
  return sent;
}

/** The most requests sent within any span of `windowMs` (closed at both ends: the worst case). */
function busiestSpan(sent: number[], windowMs: number): number {
  let most = 0;
  let first = 0;
  for (let last = 0; last < sent.length; last++) {
    while (sent[last]! - sent[first]! > windowMs) first++;
    most = Math.max(most, last - first + 1);
  }
  return most;
}

/**
 * The worst case for fixed windows: every other window gets one request at its start and
 * the rest at its end, and the next window's requests follow at once.
 */
function lateThenEarly(durationMs: number): Gap {
  return ({ inWindow, windowIndex }) => (windowIndex % 2 === 0 && inWindow === 1 ? durationMs * 0.99 : 0.001);
}

/** A fixed seed, so the draws are the same on every run. */
function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

describe('fixedWindowsFor', () => {
  it('cuts Factus’s 80 a minute into 16 per quarter minute', () => {
    assert.deepEqual(fixedWindowsFor(80, 60_000), { points: 16, durationMs: 15_000 });
  });

  it('never allows more than the limit in any span of the window, however requests arrive', () => {
    const random = seeded(7);
    for (const limit of [2, 3, 5, 10, 16, 80, 200]) {
      for (const windowMs of [1_000, 1_010, 2_500, 60_000, 60_500]) {
        const windows = fixedWindowsFor(limit, windowMs);
        // Bursts, requests late in one window then early in the next, a steady trickle, random gaps.
        const patterns: Gap[] = [
          lateThenEarly(windows.durationMs),
          () => 0.001,
          () => windows.durationMs / windows.points,
          () => random() * (windows.durationMs / 2),
          () => (random() < 0.9 ? 0.001 : windows.durationMs * random()),
        ];
        for (const nextGap of patterns) {
          const busiest = busiestSpan(sendTimes(windows, nextGap, 400), windowMs);
          assert.ok(busiest <= limit, `${limit} per ${windowMs} ms: ${busiest} requests in one span`);
        }
      }
    }
  });

  it('would break the limit with one window of the whole limit (what the cut avoids)', () => {
    const naive = { points: 10, durationMs: 1_000 };
    assert.ok(busiestSpan(sendTimes(naive, lateThenEarly(1_000), 100), 1_000) > 10);
  });

  it('keeps sub-windows at a second or more, and gives each at least one request', () => {
    assert.deepEqual(fixedWindowsFor(10, 1_010), { points: 5, durationMs: 1_010 });
    assert.deepEqual(fixedWindowsFor(3, 60_000), { points: 1, durationMs: 30_000 });
    assert.deepEqual(fixedWindowsFor(1, 60_000), { points: 1, durationMs: 60_000 });
    assert.equal(fixedWindowsFor(200, 2_000).durationMs, 1_000);
  });
});
