/**
 * Properties of the loopback callback handler: arbitrary request paths and queries, sent as raw
 * HTTP over 127.0.0.1 to a running receiver. The process never crashes, every connection the
 * receiver accepts gets an HTTP response, a query never becomes markup, the result settles only
 * with the expected state or a typed AUTHORIZATION error, and a receiver that is still waiting
 * accepts the matching redirect afterwards.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { startLoopbackReceiver } from '../../src/grants/loopback-receiver.js';
import { assertTyped, fc, fuzzParams } from './fuzz-settings.js';

interface RawAnswer {
  /** undefined when the connection was refused or closed without a status line. */
  status?: number;
  head: string;
  body: string;
  refused: boolean;
}

/** One raw HTTP/1.1 request on its own connection; the idle timeout only guards against a hang. */
function rawRequest(
  port: number,
  method: string,
  target: string,
  host = `127.0.0.1:${port}`,
  idleTimeoutMs = 10_000,
): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let refused = false;
    socket.setTimeout(idleTimeoutMs, () => socket.destroy());
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNREFUSED') refused = true;
    });
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      const head = split === -1 ? text : text.slice(0, split);
      const status = /^HTTP\/1\.1 (\d{3}) /.exec(head)?.[1];
      resolve({
        ...(status === undefined ? {} : { status: Number(status) }),
        head,
        body: split === -1 ? '' : text.slice(split + 4),
        refused,
      });
    });
    socket.on('connect', () =>
      socket.write(`${method} ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`, 'latin1'),
    );
  });
}

const CALLBACK_PATH = '/callback';
const MARKUP = '<script>alert(1)</script>';

const pathPart = fc.oneof(
  fc.constantFrom(
    CALLBACK_PATH,
    `${CALLBACK_PATH}/`,
    '/',
    '/other',
    '/callbackx',
    '/%63allback',
    '/./callback',
    '/a/../callback',
  ),
  fc.webPath().map((path) => (path.startsWith('/') ? path : `/${path}`)),
  fc
    .string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 20 })
    .map((path) => `/${path}`),
);

/** A query: state (right, wrong, repeated or missing), code, error (sometimes markup), junk. */
function queryPart(expectedState: string) {
  const pair = fc.oneof(
    fc.tuple(fc.constant('state'), fc.oneof(fc.constant(expectedState), fc.string({ maxLength: 10 }))),
    fc.tuple(fc.constant('code'), fc.string({ maxLength: 10 })),
    fc.tuple(
      fc.constant('error'),
      fc.oneof(fc.constantFrom('access_denied', MARKUP), fc.string({ maxLength: 10 })),
    ),
    fc.tuple(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 })),
  );
  return fc.oneof(
    fc.array(pair, { maxLength: 4 }).map((pairs) => new URLSearchParams(pairs).toString()),
    fc.string({
      unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
      maxLength: 20,
    }),
    fc.constant(''),
  );
}

function fuzzRequest(expectedState: string) {
  // The provider's own answer, sometimes with an error that must not become markup.
  const redirect = fc
    .record({
      error: fc.option(fc.oneof(fc.constant(MARKUP), fc.string({ maxLength: 12 })), { nil: undefined }),
      code: fc.string({ maxLength: 8 }),
    })
    .map(({ error, code }) => ({
      method: 'GET',
      target: `${CALLBACK_PATH}?${new URLSearchParams({ state: expectedState, code, ...(error === undefined ? {} : { error }) })}`,
    }));
  const anyRequest = fc
    .record({
      method: fc.oneof(
        { weight: 6, arbitrary: fc.constant('GET') },
        fc.constantFrom('POST', 'HEAD', 'OPTIONS', 'get'),
      ),
      path: pathPart,
      query: fc.option(queryPart(expectedState), { nil: undefined }),
    })
    .map(({ method, path, query }) => ({ method, target: query === undefined ? path : `${path}?${query}` }));
  return fc.oneof({ weight: 6, arbitrary: anyRequest }, { weight: 1, arbitrary: redirect });
}

describe('fuzz: the loopback callback receiver', () => {
  it('answers every request with a page, settles only with the expected state, and keeps typed errors', async () => {
    const expectedState = 'st-9f3c21d07a5e';
    await fc.assert(
      fc.asyncProperty(
        fc.array(fuzzRequest(expectedState), { minLength: 1, maxLength: 3 }),
        async (requests) => {
          const receiver = await startLoopbackReceiver({
            redirectUri: `http://127.0.0.1:0${CALLBACK_PATH}`,
            expectedState,
            timeoutMs: 600_000,
          });
          let outcome: { params?: URLSearchParams; error?: unknown } | undefined;
          receiver.result.then(
            (params) => {
              outcome = { params };
            },
            (error: unknown) => {
              outcome = { error };
            },
          );
          const port = Number(new URL(receiver.redirectUri).port);
          try {
            let reachedCallback = false;
            for (const { method, target } of requests) {
              const settledBefore = outcome !== undefined;
              const answer = await rawRequest(port, method, target);
              if (answer.refused) {
                assert.ok(settledBefore, `refused ${method} ${target} while still waiting`);
                continue;
              }
              assert.ok(
                answer.status !== undefined,
                `no HTTP response to ${method} ${target}: ${answer.head}`,
              );
              if (/content-type: text\/html/i.test(answer.head)) {
                assert.ok(answer.body === '' || answer.body.includes('<h1>'), answer.body);
                assert.ok(!answer.body.includes('<script'), `markup from ${target} reached the page`);
              }
              const parsed = URL.canParse(target, 'http://127.0.0.1')
                ? new URL(target, 'http://127.0.0.1')
                : undefined;
              if (method === 'GET' && parsed?.pathname === CALLBACK_PATH && answer.status !== 404)
                reachedCallback = true;
            }
            if (!reachedCallback)
              assert.equal(outcome, undefined, 'only a redirect to the callback path settles');

            const waiting = outcome === undefined;
            const match = await rawRequest(
              port,
              'GET',
              `${CALLBACK_PATH}?state=${expectedState}&code=fuzz-code`,
            );
            if (waiting) {
              // A receiver that kept waiting takes the real redirect.
              assert.equal(match.status, 200, match.head);
              assert.equal(outcome?.params?.get('code'), 'fuzz-code');
            } else if (!match.refused) {
              assert.ok(match.status !== undefined, `no HTTP response after settling: ${match.head}`);
            }
            assert.ok(outcome !== undefined);
            if (outcome.params) assert.equal(outcome.params.get('state'), expectedState);
            else assertTyped(outcome.error, ['AUTHORIZATION']);
          } finally {
            await receiver.close();
          }
        },
      ),
      fuzzParams(120),
    );
  });

  it('survives request targets and Host headers that are not a URL', async () => {
    for (const [target, host] of [
      ['//[', undefined],
      ['//[::1', undefined],
      ['/\\[', undefined],
      ['http://[/callback', undefined],
      ['/callback?state=x', '['],
      ['/callback', 'a b'],
    ] as const) {
      const receiver = await startLoopbackReceiver({
        redirectUri: `http://127.0.0.1:0${CALLBACK_PATH}`,
        expectedState: 'state',
        timeoutMs: 600_000,
      });
      try {
        const port = Number(new URL(receiver.redirectUri).port);
        const answer = await rawRequest(port, 'GET', target, host, 1_000);
        assert.ok(answer.status !== undefined, `no HTTP response to ${target} (Host ${host ?? 'valid'})`);
      } finally {
        await receiver.close();
      }
    }
  });
});
