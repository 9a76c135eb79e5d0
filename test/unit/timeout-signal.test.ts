import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { signalsUnder, timeoutUnder } from '../../src/http/timeout-signal.js';

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
});
