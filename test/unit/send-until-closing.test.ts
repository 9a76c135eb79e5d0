import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, it } from 'node:test';
import { sendUntilClosing } from '../../src/grants/token-endpoint.js';

/**
 * A request that waits until its signal aborts, or until `answer` is called. Like a socket, it
 * keeps the process alive while it waits (AbortSignal.timeout's timer does not).
 */
function pendingRequest() {
  let answer!: () => void;
  let seen!: AbortSignal;
  const send = (init: RequestInit) => {
    const socket = setTimeout(() => undefined, 10_000);
    return new Promise<string>((resolve, reject) => {
      seen = init.signal as AbortSignal;
      if (seen.aborted) reject(seen.reason);
      seen.addEventListener('abort', () => reject(seen.reason));
      answer = () => resolve('answered');
    }).finally(() => clearTimeout(socket));
  };
  return { send, answer: () => answer(), signal: () => seen };
}

describe('a token request given up when the keeper closes', () => {
  it('leaves no listener on the keeper’s signal once it has its answer, however many are sent', async () => {
    const closing = new AbortController().signal;
    for (let i = 0; i < 50; i++) {
      const request = pendingRequest();
      const sent = sendUntilClosing(closing, { signal: AbortSignal.timeout(30_000) }, request.send);
      assert.equal(getEventListeners(closing, 'abort').length, 1, 'listening while the request waits');
      request.answer();
      assert.equal(await sent, 'answered');
    }
    assert.equal(getEventListeners(closing, 'abort').length, 0);
  });

  it('also leaves none when the request fails', async () => {
    const closing = new AbortController().signal;
    await assert.rejects(
      sendUntilClosing(closing, {}, async () => {
        throw new Error('refused');
      }),
      /refused/,
    );
    assert.equal(getEventListeners(closing, 'abort').length, 0);
  });

  it('aborts the request under way when the keeper closes, with the keeper’s reason', async () => {
    const keeper = new AbortController();
    const request = pendingRequest();
    const sent = sendUntilClosing(keeper.signal, { signal: AbortSignal.timeout(30_000) }, request.send);
    const reason = new Error('closed');
    keeper.abort(reason);
    await assert.rejects(sent, (error) => error === reason);
    assert.equal(request.signal().reason, reason);
  });

  it('still ends at the request’s own timeout', async () => {
    const request = pendingRequest();
    const sent = sendUntilClosing(
      new AbortController().signal,
      { signal: AbortSignal.timeout(20) },
      request.send,
    );
    await assert.rejects(sent, (error: Error) => error.name === 'TimeoutError');
  });

  it('sends nothing that could still be answered once the keeper has closed', async () => {
    const keeper = new AbortController();
    keeper.abort(new Error('closed'));
    const request = pendingRequest();
    await assert.rejects(sendUntilClosing(keeper.signal, {}, request.send), /closed/);
    assert.equal(request.signal().aborted, true);
  });
});
