import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { authorize, postToken, redirectQuery, startFactorial } from './factorial-helpers.js';

const LOOPBACK = 'http://127.0.0.1:8765/callback';

describe('Factorial loopback redirect URIs (RFC 8252 §7.3)', () => {
  test('a registered loopback IP redirect URI matches on any port, at both endpoints', async () => {
    const { emulator } = await startFactorial({ redirectUris: [LOOPBACK, 'http://[::1]:8765/callback'] });
    for (const uri of ['http://127.0.0.1:49152/callback', 'http://[::1]:50000/callback']) {
      const response = await authorize(emulator, { redirect_uri: uri, state: 's1' });
      assert.equal(response.status, 302, uri);
      const location = new URL(response.headers.get('location') ?? '');
      await response.arrayBuffer();
      assert.equal(location.port, new URL(uri).port, 'the code goes to the port asked for');
      const code = location.searchParams.get('code') ?? '';
      // Doorkeeper checks the token request's redirect_uri with the same rule.
      const exchanged = await postToken(emulator, {
        grant_type: 'authorization_code',
        code,
        redirect_uri: uri.replace(/:\d+\//, ':41000/'),
      });
      assert.equal(exchanged.status, 200, JSON.stringify(exchanged.body));
    }
  });

  test('only the port may differ: another path, scheme or a non-IP host is refused', async () => {
    const { emulator } = await startFactorial({ redirectUris: [LOOPBACK, 'http://localhost:8765/callback'] });
    for (const uri of [
      'http://127.0.0.1:49152/other',
      'https://127.0.0.1:49152/callback',
      'http://localhost:49152/callback',
      'http://127.0.0.2.example:8765/callback',
    ]) {
      const response = await authorize(emulator, { redirect_uri: uri });
      assert.equal(response.status, 400, uri);
      assert.match(await response.text(), /invalid_redirect_uri/);
    }
  });

  test('redirectUriMatching: exact refuses another port', async () => {
    const { emulator } = await startFactorial({ redirectUriMatching: 'exact' });
    const other = await authorize(emulator, { redirect_uri: 'http://127.0.0.1:49152/callback' });
    assert.equal(other.status, 400);
    await other.arrayBuffer();
    const query = await redirectQuery(await authorize(emulator, { redirect_uri: LOOPBACK }));
    assert.ok(query.get('code'));
  });
});
