/**
 * Where a hostile or broken provider meets tokenkeeper: fake loopback names in discovered
 * metadata, endless bodies, escape sequences in error text.
 */
import assert from 'node:assert/strict';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { isTokenkeeperError, type TokenkeeperError } from '../../src/errors.js';
import {
  checkAuthorizationRequest,
  createAuthorizationRequest,
} from '../../src/grants/authorization-code.js';
import { createKeeper } from '../../src/keeper.js';
import { MemoryTokenStore } from '../../src/store/memory-store.js';
import { hasControlCharacter } from '../helpers/control-characters.js';

const servers: Server[] = [];
after(() => {
  for (const server of servers) {
    server.closeAllConnections();
    server.close();
  }
});

async function serve(handler: RequestListener): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A fetch that only ever talks to 127.0.0.1, and records every URL it was asked for. */
function loopbackOnlyFetch(asked: string[]): typeof fetch {
  return (input, init) => {
    const url = new URL(String(input instanceof Request ? input.url : input));
    asked.push(url.href);
    if (url.hostname !== '127.0.0.1') return Promise.reject(new TypeError(`test refused ${url.host}`));
    return fetch(input, init);
  };
}

describe('a discovered endpoint on a fake loopback name', () => {
  it('is refused before anything is sent to it', async () => {
    let issuer = '';
    issuer = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ issuer, token_endpoint: 'http://127.0.0.1.nip.io/token' }));
    });
    const asked: string[] = [];
    const keeper = createKeeper({ store: new MemoryTokenStore(), fetch: loopbackOnlyFetch(asked), env: {} });
    try {
      await assert.rejects(
        keeper.connect('svc', {
          provider: 'oauth2',
          issuer,
          grant: 'client_credentials',
          clientId: 'c',
          clientSecret: 'never-sent',
        }),
        (error: TokenkeeperError) => {
          assert.equal(error.code, 'CONFIG');
          assert.match(error.message, /token URL http:\/\/127\.0\.0\.1\.nip\.io uses plain http/);
          return true;
        },
      );
      assert.deepEqual(
        asked.filter((url) => !url.startsWith(issuer)),
        [],
        'nothing went to the fake loopback host',
      );
    } finally {
      await keeper.close();
    }
  });
});

describe('the pre-flight of the authorization URL', () => {
  const HUGE = 8 * 1024 * 1024;

  /** Answers `status` with an endless-looking JSON body (no content-length), written in 16 KiB chunks. */
  function hugeBodyServer(status: number): Promise<string> {
    return serve((_req, res) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.write('{"error":"invalid_client","error_description":"');
      const chunk = 'x'.repeat(16 * 1024);
      let written = 0;
      const more = () => {
        while (written < HUGE) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', more);
        }
        res.end('"}');
      };
      res.on('close', () => {
        written = HUGE; // the client hung up: stop writing
      });
      more();
    });
  }

  /** A fetch whose response bodies count the bytes tokenkeeper actually pulls from them. */
  function countingFetch(counter: { bytes: number }): typeof fetch {
    return async (input, init) => {
      const response = await fetch(input, init);
      const reader = response.body!.getReader();
      const counted = new ReadableStream<Uint8Array>(
        {
          async pull(controller) {
            const { done, value } = await reader.read();
            if (done) return controller.close();
            counter.bytes += value.byteLength;
            controller.enqueue(value);
          },
          cancel: (reason) => reader.cancel(reason),
        },
        { highWaterMark: 0 },
      );
      return new Response(counted, { status: response.status, headers: response.headers });
    };
  }

  for (const status of [400, 200]) {
    it(`reads a bounded part of a huge body (HTTP ${status})`, async () => {
      const base = await hugeBodyServer(status);
      const request = await createAuthorizationRequest({
        authorizationUrl: `${base}/oauth/authorize`,
        clientId: 'c',
        redirectUri: 'http://127.0.0.1:8765/callback',
        pkce: false,
      });
      const counter = { bytes: 0 };
      const check = checkAuthorizationRequest(request, { fetch: countingFetch(counter), timeoutMs: 10_000 });
      if (status === 400) {
        await assert.rejects(check, (error: TokenkeeperError) => {
          assert.equal(error.code, 'AUTHORIZATION');
          assert.match(error.message, /refused the request \(HTTP 400\)/);
          return true;
        });
      } else {
        await check;
      }
      assert.ok(counter.bytes <= 128 * 1024, `read ${counter.bytes} bytes of an ${HUGE}-byte body`);
    });
  }

  it('strips control characters from the error it describes', async () => {
    const base = await serve((_req, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          error: 'invalid_client',
          error_description: 'no\u001b]0;owned\u0007 such\u001b[2J client',
        }),
      );
    });
    const request = await createAuthorizationRequest({
      authorizationUrl: `${base}/oauth/authorize`,
      clientId: 'c',
      redirectUri: 'http://127.0.0.1:8765/callback',
      pkce: false,
    });
    await assert.rejects(checkAuthorizationRequest(request, { fetch, timeoutMs: 10_000 }), (error: Error) => {
      assert.equal(hasControlCharacter(error.message), false, JSON.stringify(error.message));
      assert.match(error.message, /no\]0;owned such\[2J client/);
      return true;
    });
  });
});

describe('a token endpoint error with escape sequences', () => {
  it('reaches the message and the error fields printable', async () => {
    const base = await serve((_req, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          error: 'invalid_grant\u001b[8m',
          error_description: 'bad\u001b[2J\u001b]0;owned\u0007 credentials\r\nfake: line',
        }),
      );
    });
    const keeper = createKeeper({ store: new MemoryTokenStore(), env: {} });
    try {
      await assert.rejects(
        keeper.connect('acme', {
          provider: 'factus',
          baseUrl: base,
          clientId: 'c',
          clientSecret: 'client-secret',
          username: 'u',
          password: 'user-password',
        }),
        (error: TokenkeeperError) => {
          assert.equal(error.code, 'TOKEN_ENDPOINT');
          for (const text of [error.message, error.error ?? '', error.error_description ?? '']) {
            assert.equal(hasControlCharacter(text), false, JSON.stringify(text));
          }
          assert.match(error.message, /bad\[2J\]0;owned credentials fake: line/);
          return true;
        },
      );
    } finally {
      await keeper.close();
    }
  });
});

describe('an identity endpoint that answers with an endless body', () => {
  for (const declared of [false, true]) {
    it(`whoami reads a bounded part and fails with an HTTP error (${declared ? 'a declared' : 'an undeclared'} length)`, async () => {
      const HUGE = 8 * 1024 * 1024;
      let sent = 0;
      const base = await serve((req, res) => {
        if (req.url?.startsWith('/token')) {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ access_token: 'at', token_type: 'Bearer', expires_in: 3600 }));
          return;
        }
        res.writeHead(200, {
          'content-type': 'application/json',
          ...(declared ? { 'content-length': String(HUGE) } : {}),
        });
        const chunk = `{"sub":"${'x'.repeat(64 * 1024)}`;
        const more = () => {
          while (sent < HUGE) {
            sent += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', more);
          }
          res.end();
        };
        res.on('close', () => {
          sent = HUGE; // the client hung up: stop writing
        });
        more();
      });
      const keeper = createKeeper({ store: new MemoryTokenStore(), env: {}, proactiveRefresh: false });
      try {
        await keeper.connect('svc', {
          provider: 'oauth2',
          grant: 'client_credentials',
          tokenUrl: `${base}/token`,
          userinfoUrl: `${base}/userinfo`,
          clientId: 'c',
          clientSecret: 'client-secret',
        });
        await assert.rejects(keeper.whoami('svc'), (error: TokenkeeperError) => {
          assert.equal(isTokenkeeperError(error), true, String(error));
          assert.equal(error.code, 'HTTP');
          assert.equal(error.status, 200);
          assert.match(
            error.message,
            /identity endpoint .*\/userinfo answered HTTP 200 with more than 1024 KiB/,
          );
          return true;
        });
      } finally {
        await keeper.close();
      }
    });
  }
});
