import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TokenkeeperError } from '../../src/errors.js';
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

  it('refuses a redirect whose state is not ours and fails the login', async () => {
    const receiver = await startLoopbackReceiver({ redirectUri, expectedState: 's1', timeoutMs: 5000 });
    const response = await fetch(`${receiver.redirectUri}?code=abc&state=forged`);
    assert.equal(response.status, 400);
    await response.text();
    await assert.rejects(receiver.result, (error: TokenkeeperError) => {
      assert.equal(error.code, 'AUTHORIZATION');
      assert.match(error.message, /may be forged/);
      return true;
    });
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
