import assert from 'node:assert/strict';
import { createHook } from 'node:async_hooks';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { withAuthServerOptions } from '../../src/grants/token-endpoint.js';
import {
  releasableTimeoutUnder,
  signalsUnder,
  timeoutUnder,
  unreleasedUnder,
} from '../../src/http/timeout-signal.js';

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** Collects until `done`, giving finalizers their turn between rounds; false if it never is. */
async function collectUntil(done: () => boolean): Promise<boolean> {
  for (let round = 0; round < 20 && !done(); round++) {
    collectGarbage();
    await new Promise((resolve) => setImmediate(resolve));
    await sleep(5);
  }
  return done();
}

describe('a request timeout under the caller’s own signal', () => {
  it('aborts with the caller’s reason when the caller aborts', () => {
    const caller = new AbortController();
    const first = timeoutUnder(caller.signal, 60_000);
    const second = timeoutUnder(caller.signal, 60_000);
    const reason = new Error('shutting down');
    caller.abort(reason);
    assert.equal(first.reason, reason);
    assert.equal(second.reason, reason);
  });

  it('aborts with a TimeoutError when the time runs out', async () => {
    const signal = timeoutUnder(new AbortController().signal, 10);
    assert.equal(signal.aborted, false);
    await sleep(100); // a timer that holds the process open; a timeout signal's does not
    assert.equal((signal.reason as Error | undefined)?.name, 'TimeoutError');
  });

  it('is aborted from the start under a caller that already gave up', () => {
    const caller = new AbortController();
    const reason = new Error('gone');
    caller.abort(reason);
    const signal = timeoutUnder(caller.signal, 60_000);
    assert.equal(signal.aborted, true);
    assert.equal(signal.reason, reason);
  });

  it('lets a long-lived caller signal drop the requests that are over, once they are collected', async () => {
    const caller = new AbortController();
    const requests = 5_000;
    let held: AbortSignal[] = [];
    for (let i = 0; i < requests; i++) held.push(timeoutUnder(caller.signal, 1));
    await sleep(20); // every timeout has fired
    // In use, each stays reachable from the caller's signal: the check below can fail.
    assert.equal(await collectUntil(() => signalsUnder(caller.signal) < requests), false);
    assert.ok(held.every((signal) => signal.aborted));
    held = [];
    assert.ok(
      await collectUntil(() => signalsUnder(caller.signal) < requests / 10),
      `${signalsUnder(caller.signal)} of ${requests} are still referenced`,
    );
  });

  it('stops the timer of a request that is over once it is collected, long before it would fire', async () => {
    const caller = new AbortController();
    const requests = 2_000;
    const pending = new Set<number>();
    const timers = createHook({
      init(id, type) {
        if (type === 'Timeout') pending.add(id);
      },
      destroy(id) {
        pending.delete(id);
      },
    }).enable();
    try {
      let held: AbortSignal[] = [];
      for (let i = 0; i < requests; i++) held.push(timeoutUnder(caller.signal, 60_000));
      // In use, each keeps its timer: the check below can fail.
      assert.equal(await collectUntil(() => pending.size < requests), false);
      assert.equal(held.length, requests);
      held = [];
      assert.ok(
        await collectUntil(() => pending.size < requests / 10),
        `${pending.size} of ${requests} timers still pending`,
      );
    } finally {
      timers.disable();
    }
  });

  it('drops a request that is over long before its timeout would have fired', async () => {
    const caller = new AbortController();
    const requests = 5_000;
    // A 60-s timeout keeps its timer and its listener that long: the listener must not keep the request.
    for (let i = 0; i < requests; i++) timeoutUnder(caller.signal, 60_000);
    assert.ok(
      await collectUntil(() => signalsUnder(caller.signal) < requests / 10),
      `${signalsUnder(caller.signal)} of ${requests} are still referenced`,
    );
  });
});

describe('a released request timeout under a long-lived signal (token requests)', () => {
  it('aborts the requests not released yet with the long-lived signal’s reason, and no other', () => {
    const closing = new AbortController();
    const over = releasableTimeoutUnder(closing.signal, 60_000);
    const waiting = releasableTimeoutUnder(closing.signal, 60_000);
    over.release();
    assert.equal(unreleasedUnder(closing.signal), 1);
    const reason = new Error('closed');
    closing.abort(reason);
    assert.equal(waiting.signal.reason, reason);
    assert.equal(over.signal.aborted, false);
    waiting.release();
  });

  it('aborts with a TimeoutError when the time runs out, and not once released', async () => {
    const closing = new AbortController();
    const timedOut = releasableTimeoutUnder(closing.signal, 10);
    const released = releasableTimeoutUnder(closing.signal, 10);
    released.release();
    await sleep(100);
    assert.equal((timedOut.signal.reason as Error | undefined)?.name, 'TimeoutError');
    assert.equal(released.signal.aborted, false, 'its timer was cleared');
    timedOut.release();
  });

  it('is aborted from the start under a signal already aborted', () => {
    const closing = new AbortController();
    const reason = new Error('closed');
    closing.abort(reason);
    const { signal, release } = releasableTimeoutUnder(closing.signal, 60_000);
    assert.equal(signal.reason, reason);
    release();
  });

  it('is released by every request to an authorization server, answered or failed', async () => {
    const closing = new AbortController();
    const ctx = { authServerFetch: fetch, timeoutMs: 60_000, closing: closing.signal };
    let seen: AbortSignal | undefined;
    const answered = await withAuthServerOptions('http://127.0.0.1:9/token', ctx, async (options) => {
      seen = options.signal;
      assert.equal(unreleasedUnder(closing.signal), 1, 'under the closing while it runs');
      return 'answer';
    });
    assert.equal(answered, 'answer');
    assert.equal(seen?.aborted, false);
    await assert.rejects(
      withAuthServerOptions('http://127.0.0.1:9/token', ctx, async () => {
        throw new Error('refused');
      }),
      /refused/,
    );
    assert.equal(unreleasedUnder(closing.signal), 0);
  });
});
