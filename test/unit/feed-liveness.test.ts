/**
 * FeedLiveness: when the daemon may trust the store's change feed, judged by its own
 * refreshes being announced back to it. The store and the keep-alive around it are in
 * test/serve/shared-stores.test.ts; this covers the orders a probe's events can come in.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../../src/clock.js';
import { FeedLiveness } from '../../src/serve/feed-liveness.js';

const PROOF_MS = 1_000;
const LIVE_FOR_MS = 60_000;

function liveness() {
  const clock = new FakeClock();
  return { clock, feed: new FeedLiveness(clock, PROOF_MS, LIVE_FOR_MS) };
}

const change = (name: string, version: number, deleted = false) => ({ name, version, deleted });

describe('FeedLiveness', () => {
  it('is not live until a refresh it followed is heard, after or before the refresh returns', () => {
    const { feed } = liveness();
    assert.equal(feed.isLive(), false);
    feed.refreshing('a', 3);
    feed.refreshed('a', true);
    feed.heard(change('a', 4));
    assert.equal(feed.isLive(), true, 'heard after the save');

    const early = liveness();
    early.feed.refreshing('a', 3);
    early.feed.heard(change('a', 4)); // the announcement can beat the refresh's own return
    assert.equal(early.feed.isLive(), false, 'not before the refresh is known to be saved');
    early.feed.refreshed('a', true);
    assert.equal(early.feed.isLive(), true, 'heard before the save');
  });

  it('counts only an announcement of the followed connection above the version it left', () => {
    const { feed } = liveness();
    feed.refreshing('a', 3);
    feed.refreshed('a', true);
    feed.heard(change('b', 9)); // another connection
    feed.heard(change('a', 3)); // the version the refresh started from
    assert.equal(feed.isLive(), false);
    feed.heard(change('a', 5)); // a later write than its own still means the feed delivers
    assert.equal(feed.isLive(), true);
  });

  it('follows one refresh at a time, and lets go of one that saved nothing', () => {
    const { feed } = liveness();
    feed.refreshing('a', 1);
    feed.refreshing('b', 1); // not followed: a is
    feed.refreshed('b', true);
    feed.heard(change('b', 2));
    assert.equal(feed.isLive(), false, 'b was not the probe');
    feed.refreshed('a', false); // failed: nothing written, nothing to hear
    feed.refreshing('b', 2);
    feed.refreshed('b', true);
    feed.heard(change('b', 3));
    assert.equal(feed.isLive(), true, 'the next refresh became the probe');
  });

  it('turns deaf when a saved refresh goes unheard past the proof time, live again on the next', async () => {
    const { clock, feed } = liveness();
    feed.refreshing('a', 1);
    feed.refreshed('a', true);
    feed.heard(change('a', 2));
    feed.refreshing('a', 2);
    feed.refreshed('a', true);
    await clock.advance(PROOF_MS);
    assert.equal(feed.isLive(), true, 'still within the proof time');
    await clock.advance(1);
    assert.equal(feed.isLive(), false, 'overdue: deaf');
    feed.heard(change('a', 3)); // too late: that probe was given up
    assert.equal(feed.isLive(), false);
    feed.refreshing('a', 3);
    feed.refreshed('a', true);
    feed.heard(change('a', 4));
    assert.equal(feed.isLive(), true);
  });

  it('keeps a proof for liveForMs only: silence proves nothing', async () => {
    const { clock, feed } = liveness();
    feed.refreshing('a', 1);
    feed.refreshed('a', true);
    feed.heard(change('a', 2, true)); // a delete announces too
    await clock.advance(LIVE_FOR_MS);
    assert.equal(feed.isLive(), true);
    await clock.advance(1);
    assert.equal(feed.isLive(), false);
  });

  it('an echo heard makes it live for the same time; one sent before a miss proves nothing', async () => {
    const { clock, feed } = liveness();
    const sent = feed.echoing();
    feed.echoed(sent);
    assert.equal(feed.isLive(), true);
    assert.equal(feed.liveFor(LIVE_FOR_MS), true, 'live for the whole time from now');
    assert.equal(feed.liveFor(LIVE_FOR_MS + 1), false, 'and not longer');
    await clock.advance(LIVE_FOR_MS - 500);
    assert.equal(feed.liveFor(500), true);
    assert.equal(feed.liveFor(501), false, 'about to run out: time for the next echo');

    const late = liveness();
    const before = late.feed.echoing();
    late.feed.missed(); // the feed was down while the echo was on its way
    late.feed.echoed(before);
    assert.equal(late.feed.isLive(), false, 'an echo from before the miss');
    late.feed.echoed(late.feed.echoing());
    assert.equal(late.feed.isLive(), true, 'one sent after it');
  });

  it('an echo keeps a followed refresh followed: its announcement unheard still undoes the proof', async () => {
    const { clock, feed } = liveness();
    feed.refreshing('a', 3);
    feed.refreshed('a', true);
    feed.echoed(feed.echoing());
    assert.equal(feed.isLive(), true);
    await clock.advance(PROOF_MS + 1);
    assert.equal(feed.isLive(), false, 'the refresh was never heard: deaf to writes');
  });
});
