/**
 * The hot path's API: a minimal node:http server on 127.0.0.1 that hands out one
 * long-lived token at POST /oauth/token and answers any other request 200 when its
 * Bearer header carries that token, 401 otherwise. A path under /slow/{ms}/ is answered
 * after that many ms, as a provider's API takes time of its own. It runs in its own process
 * so that the client under test has a core to itself. Prints `{"port":…}`, then
 * exits when stdin closes or after the lifetime given in argv (ms), whichever is first.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { serveUntilStdinEnds } from '../lib/serve-child.js';

const lifetimeMs = Number(process.argv[2] ?? 600_000);
const accessToken = randomBytes(32).toString('hex');
const expected = `Bearer ${accessToken}`;
const tokenBody = Buffer.from(
  JSON.stringify({
    token_type: 'Bearer',
    expires_in: 3600,
    access_token: accessToken,
    refresh_token: randomBytes(32).toString('hex'),
  }),
);
const okBody = Buffer.from('{"status":"OK","data":[]}');
const json = (length: number) => ({ 'content-type': 'application/json', 'content-length': String(length) });

const server = createServer((request, response) => {
  if (request.method === 'POST' && request.url === '/oauth/token') {
    request.resume();
    request.on('end', () => {
      response.writeHead(200, { ...json(tokenBody.length), 'cache-control': 'no-store' });
      response.end(tokenBody);
    });
    return;
  }
  const answer = () => {
    if (request.headers.authorization === expected) {
      response.writeHead(200, json(okBody.length));
      response.end(okBody);
    } else {
      response.writeHead(401, { 'content-length': '0', 'www-authenticate': 'Bearer' });
      response.end();
    }
  };
  const serverTimeMs = /^\/slow\/(\d+)\//.exec(request.url ?? '')?.[1];
  if (serverTimeMs === undefined) answer();
  else setTimeout(answer, Number(serverTimeMs));
});

serveUntilStdinEnds(server, lifetimeMs);
