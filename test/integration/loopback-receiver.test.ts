import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import { isLoopbackRedirectUri, startLoopbackReceiver } from '../../src/grants/loopback-receiver.js';

const redirectUri = 'http://127.0.0.1:0/callback';

describe('the loopback receiver', () => {
  it('receives one redirect with the right state, then stops listening', async () => {
    const receiver = await startLoopbackReceiver({ redirectUri, expectedState: 's1', timeoutMs: 5000 });
    assert.match(receiver.redirectUri, /^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    const notHere = await fetch(new URL('/other', receiver.redirectUri));
    assert.equal(notHere.status, 404);
    await notHere.text();
    const response = await fetch(`${receiver.redirectUri}?code=abc&state=s1`);
    assert.equal(response.status, 200);
    assert.match(await response.text(), /You can close this window/);
    const params = await receiver.result;
    assert.equal(params.get('code'), 'abc');
    await assert.rejects(
      fetch(`${receiver.redirectUri}?code=again&state=s1`),
      'the listener is gone after one answer',
    );
  });

  it('answers a wrong or missing state with a 400 page and keeps waiting for the login', async () => {
    const receiver = await startLoopbackReceiver({ redirectUri, expectedState: 's1', timeoutMs: 5000 });
    // What any web page can make a browser send (an <img> aimed at the port), and odd requests.
    for (const query of ['?code=abc&state=forged', '?code=abc', '?error=access_denied', '']) {
      const response = await fetch(`${receiver.redirectUri}${query}`);
      assert.equal(response.status, 400, query);
      assert.match(await response.text(), /does not belong to the login that is waiting/);
    }
    assert.equal(await rawRequest(receiver.redirectUri, 'GET //[ HTTP/1.1'), 404, 'an unparseable target');
    const response = await fetch(`${receiver.redirectUri}?code=real&state=s1`);
    assert.equal(response.status, 200);
    await response.text();
    assert.equal((await receiver.result).get('code'), 'real');
  });

  it('ends the wait when its signal aborts (Ctrl-C)', async () => {
    const controller = new AbortController();
    const receiver = await startLoopbackReceiver({
      redirectUri,
      expectedState: 's1',
      timeoutMs: 5000,
      signal: controller.signal,
    });
    controller.abort();
    await assert.rejects(receiver.result, /The login was cancelled/);
    await assert.rejects(fetch(`${receiver.redirectUri}?code=late&state=s1`), 'no longer listening');
    await receiver.close();
  });

  it('passes a provider error on to be described', async () => {
    const receiver = await startLoopbackReceiver({ redirectUri, expectedState: 's1', timeoutMs: 5000 });
    const response = await fetch(`${receiver.redirectUri}?error=access_denied&state=s1`);
    assert.equal(response.status, 400);
    await response.text();
    assert.equal((await receiver.result).get('error'), 'access_denied');
  });

  it('gives up after the timeout with a clear message', async () => {
    const receiver = await startLoopbackReceiver({ redirectUri, expectedState: 's1', timeoutMs: 50 });
    await assert.rejects(receiver.result, /No login came back .* within 0 s/);
  });

  it('listens on loopback only, and says so when the port is taken', async () => {
    assert.equal(isLoopbackRedirectUri('http://127.0.0.1:8765/callback'), true);
    assert.equal(isLoopbackRedirectUri('http://localhost:8765/callback'), true);
    assert.equal(isLoopbackRedirectUri('https://app.example.com/callback'), false);
    assert.equal(isLoopbackRedirectUri('urn:ietf:wg:oauth:2.0:oob'), false);
    await assert.rejects(
      startLoopbackReceiver({ redirectUri: 'http://example.com/cb', expectedState: 's', timeoutMs: 10 }),
      /not a loopback redirect URI/,
    );
    const first = await startLoopbackReceiver({ redirectUri, expectedState: 's', timeoutMs: 5000 });
    await assert.rejects(
      startLoopbackReceiver({ redirectUri: first.redirectUri, expectedState: 's', timeoutMs: 5000 }),
      /is in use/,
    );
    await first.close();
    await assert.rejects(first.result, /cancelled/);
  });
});

describe('the loopback receiver page', () => {
  it('shows a provider error as text, never as markup', async () => {
    const receiver = await startLoopbackReceiver({ redirectUri, expectedState: 's1', timeoutMs: 5000 });
    const response = await fetch(
      `${receiver.redirectUri}?error=${encodeURIComponent('<script>x</script>')}&state=s1`,
    );
    const html = await response.text();
    assert.equal(html.includes('<script>'), false);
    assert.match(html, /&#60;script&#62;/);
    assert.match(response.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    await receiver.result;
  });
});

/** Sends a request line that fetch would never produce; resolves to the status code. */
function rawRequest(url: string, requestLine: string): Promise<number> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () =>
      socket.end(`${requestLine}\r\nHost: ${hostname}\r\nConnection: close\r\n\r\n`),
    );
    let answer = '';
    socket.on('data', (chunk) => {
      answer += chunk;
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0)));
  });
}
