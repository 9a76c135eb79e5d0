import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { TokenkeeperError } from '../../src/errors.js';
import { createKeeper, type Keeper } from '../../src/keeper.js';
import { MemoryTokenStore } from '../../src/store/memory-store.js';

type Reply = (res: ServerResponse) => void;

const secrets = {
  clientId: 'client',
  clientSecret: 'very-secret-client',
  username: 'u@example.com',
  password: 'hunter2-password',
};

describe('malformed token responses', () => {
  let server: Server;
  let baseUrl: string;
  let reply: Reply = () => undefined;
  let keeper: Keeper;

  before(async () => {
    server = createServer((_req, res) => reply(res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    keeper = createKeeper({
      store: new MemoryTokenStore(),
      proactiveRefresh: false,
      env: {},
      requestTimeoutMs: 2000,
    });
  });
  after(async () => {
    await keeper.close();
    server.closeAllConnections();
    server.close();
  });

  async function loginFails(respond: Reply, check: (error: TokenkeeperError) => void): Promise<void> {
    reply = respond;
    await assert.rejects(
      keeper.connect('acme', { provider: 'factus', baseUrl, ...secrets }),
      (error: TokenkeeperError) => {
        check(error);
        for (const secret of Object.values(secrets).slice(1)) {
          assert.equal(error.message.includes(secret), false, 'no secret in the message');
          assert.equal(JSON.stringify(error).includes(secret), false, 'no secret in the serialised error');
        }
        return true;
      },
    );
  }

  it('an HTML page', () =>
    loginFails(
      (res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>Login</body></html>'),
      (error) => {
        assert.equal(error.code, 'TOKEN_RESPONSE');
        assert.match(error.message, /not JSON/);
        assert.match(error.message, /base URL/);
      },
    ));

  it('an empty body', () =>
    loginFails(
      (res) => res.writeHead(200, { 'content-type': 'application/json' }).end(),
      (error) => {
        assert.equal(error.code, 'TOKEN_RESPONSE');
        assert.match(error.message, /not JSON/);
      },
    ));

  it('JSON without an access token', () =>
    loginFails(
      (res) =>
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end('{"token_type":"Bearer","expires_in":3600}'),
      (error) => {
        assert.equal(error.code, 'TOKEN_RESPONSE');
        assert.match(error.message, /access_token/);
      },
    ));

  it('JSON without a token type, but carrying a token that must not leak', () =>
    loginFails(
      (res) =>
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end('{"access_token":"hunter2-password","expires_in":3600}'),
      (error) => {
        assert.equal(error.code, 'TOKEN_RESPONSE');
        assert.match(error.message, /token_type/);
        assert.equal(error.cause, undefined, 'the parsed body is not kept as a cause');
      },
    ));

  it('an oversized body', () =>
    loginFails(
      (res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(`{"access_token":"${'x'.repeat(2 * 1024 * 1024)}","token_type":"Bearer"}`);
      },
      (error) => {
        assert.equal(error.code, 'TOKEN_RESPONSE');
        assert.match(error.message, /larger than 64 KiB/);
      },
    ));

  it('a server error page', () =>
    loginFails(
      (res) => res.writeHead(503, { 'content-type': 'text/html' }).end('<h1>Service Unavailable</h1>'),
      (error) => {
        assert.equal(error.code, 'TOKEN_RESPONSE');
        assert.equal(error.status, 503);
        assert.match(error.message, /try again later/);
      },
    ));

  it('an OAuth error with a description', () =>
    loginFails(
      (res) =>
        res
          .writeHead(401, { 'content-type': 'application/json' })
          .end(
            '{"error":"invalid_client","error_description":"Client authentication failed","message":"Client authentication failed"}',
          ),
      (error) => {
        assert.equal(error.code, 'TOKEN_ENDPOINT');
        assert.equal(error.error, 'invalid_client');
        assert.equal(error.status, 401);
        assert.match(error.message, /Check the client id and client secret/);
        assert.equal(Object.keys(error).includes('response'), false, 'the raw response is not enumerable');
        assert.ok(error.response instanceof Response);
      },
    ));

  it('no answer at all', () =>
    loginFails(
      () => undefined, // never responds; the request times out
      (error) => {
        assert.equal(error.code, 'NETWORK');
        assert.match(error.message, /did not answer in time/);
      },
    ));

  it('nobody listening', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await assert.rejects(
      keeper.connect('acme', { provider: 'factus', baseUrl: `http://127.0.0.1:${port}`, ...secrets }),
      (error: TokenkeeperError) => {
        assert.equal(error.code, 'NETWORK');
        assert.match(error.message, /ECONNREFUSED/);
        return true;
      },
    );
  });
});
