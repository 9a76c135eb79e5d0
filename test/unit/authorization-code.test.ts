import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normaliseScope } from '../../src/cli/login.js';
import type { TokenkeeperError } from '../../src/errors.js';
import {
  createAuthorizationRequest,
  describeAuthorizationError,
  readAuthorizationResponse,
} from '../../src/grants/authorization-code.js';
import { providerText, secretRedactor } from '../../src/http/provider-text.js';
import { summariseIdentity } from '../../src/identity.js';
import { pickClientAuth } from '../../src/providers/connection-endpoints.js';
import { hasControlCharacter } from '../helpers/control-characters.js';

describe('authorization requests', () => {
  it('carries client, redirect URI, scope, a random state and, when asked, a PKCE S256 challenge', async () => {
    const request = await createAuthorizationRequest({
      authorizationUrl: 'https://auth.example.com/oauth/authorize?prompt=consent',
      clientId: 'client-1',
      redirectUri: 'http://127.0.0.1:8765/callback',
      scope: 'read write',
      pkce: true,
    });
    const params = request.url.searchParams;
    assert.equal(params.get('prompt'), 'consent', 'existing query parameters are kept');
    assert.equal(params.get('client_id'), 'client-1');
    assert.equal(params.get('response_type'), 'code');
    assert.equal(params.get('scope'), 'read write');
    assert.equal(params.get('state'), request.state);
    assert.ok(request.state.length >= 43);
    assert.equal(params.get('code_challenge_method'), 'S256');
    assert.ok(request.codeVerifier);
    const other = await createAuthorizationRequest({
      authorizationUrl: 'https://a.example/x',
      clientId: 'c',
      redirectUri: request.redirectUri,
      pkce: false,
    });
    assert.notEqual(other.state, request.state);
    assert.equal(other.url.searchParams.has('code_challenge'), false);
    assert.equal(other.codeVerifier, undefined);
  });
});

describe('reading the authorization response', () => {
  const request = { state: 'expected-state' };

  it('accepts the code when the state matches, from a URL, a query string or params', () => {
    assert.equal(
      readAuthorizationResponse(request, 'http://127.0.0.1:8765/callback?code=abc&state=expected-state'),
      'abc',
    );
    assert.equal(readAuthorizationResponse(request, '?code=abc&state=expected-state'), 'abc');
    assert.equal(
      readAuthorizationResponse(request, new URLSearchParams({ code: 'abc', state: 'expected-state' })),
      'abc',
    );
  });

  it('accepts a bare pasted code only when the caller says the flow is out of band', () => {
    assert.equal(readAuthorizationResponse(request, '  4f2a9c  ', { outOfBand: true }), '4f2a9c');
    assert.throws(
      () => readAuthorizationResponse(request, '4f2a9c'),
      (error: TokenkeeperError) => error.code === 'AUTHORIZATION' && /outOfBand: true/.test(error.message),
    );
  });

  it('checks the state of every URL or query string, out of band too (no login CSRF)', () => {
    // An attacker's own code, sent to the victim's callback without a state.
    const forged = [
      'https://app.example/callback?code=ATTACKER',
      '?code=ATTACKER',
      'code=ATTACKER',
      new URL('https://app.example/callback?code=ATTACKER'),
      new URLSearchParams({ code: 'ATTACKER' }),
    ];
    for (const outOfBand of [false, true]) {
      for (const response of forged) {
        assert.throws(
          () => readAuthorizationResponse(request, response, { outOfBand }),
          (error: TokenkeeperError) =>
            error.code === 'AUTHORIZATION' && /possibly forged/.test(error.message),
          `${response} was accepted (outOfBand: ${outOfBand})`,
        );
      }
    }
    assert.equal(
      readAuthorizationResponse(request, '?code=abc&state=expected-state', { outOfBand: true }),
      'abc',
    );
  });

  it('refuses every response when there is no state to check against (no login started: login CSRF)', () => {
    const noLogin = [{}, { state: undefined }, { state: '' }] as Array<{ state: string }>;
    for (const saved of noLogin) {
      for (const response of [
        'https://app.example/callback?code=ATTACKER',
        'https://app.example/callback?code=ATTACKER&state=',
        new URLSearchParams({ code: 'ATTACKER', state: 'x' }),
      ]) {
        assert.throws(
          () => readAuthorizationResponse(saved, response),
          (error: TokenkeeperError) =>
            error.code === 'AUTHORIZATION' && /no login was started here/.test(error.message),
          `${String(response)} was accepted with ${JSON.stringify(saved)}`,
        );
      }
    }
  });

  it("checks a response's iss against a known issuer (mix-up), and lets it be without one", () => {
    const fromIssuer = '?code=abc&state=expected-state&iss=https%3A%2F%2Fas.example';
    assert.equal(readAuthorizationResponse(request, fromIssuer, { issuer: 'https://as.example' }), 'abc');
    assert.equal(readAuthorizationResponse(request, fromIssuer), 'abc');
    assert.throws(
      () => readAuthorizationResponse(request, fromIssuer, { issuer: 'https://other.example' }),
      (error: TokenkeeperError) => error.code === 'AUTHORIZATION' && /iss/.test(error.message),
    );
  });

  it('refuses a response whose state is not ours, or that lost it', () => {
    for (const pasted of ['?code=abc&state=forged', 'http://x/cb?code=abc&state=']) {
      assert.throws(
        () => readAuthorizationResponse(request, pasted),
        (error: TokenkeeperError) => error.code === 'AUTHORIZATION' && /possibly forged/.test(error.message),
      );
    }
  });

  it('turns provider errors into plain words with what to do', () => {
    assert.throws(
      () => readAuthorizationResponse(request, '?error=access_denied&state=expected-state'),
      (error: TokenkeeperError) => {
        assert.equal(error.error, 'access_denied');
        assert.match(error.message, /declined in the browser/);
        return true;
      },
    );
    assert.match(
      describeAuthorizationError('invalid_redirect_uri', undefined, 'your app').message,
      /Register it in your app/,
    );
    assert.match(
      describeAuthorizationError('invalid_client', 'unknown', 'your app').message,
      /Check the client id/,
    );
    assert.match(describeAuthorizationError('weird', undefined).message, /Run the login again/);
    assert.match(describeAuthorizationError('constructor', undefined).message, /Run the login again\.$/);
  });

  it('strips control characters from the provider’s words before they reach a terminal', () => {
    const error = describeAuthorizationError(
      'invalid_client\u001b[2J',
      'unknown\u001b]0;owned\u0007 client\r\nDone \u009b31m',
    );
    assert.equal(hasControlCharacter(error.message), false, JSON.stringify(error.message));
    assert.equal(hasControlCharacter(error.error_description ?? ''), false);
    assert.match(error.message, /unknown\]0;owned client Done 31m/);
    assert.equal(error.error, 'invalid_client[2J');
  });
});

describe('provider text', () => {
  it('turns line breaks into a space, drops other control characters, and cuts long text', () => {
    assert.equal(providerText('a\u001b[31mb\u0000\u0007c\u007f\u0085d\u202ee\u009b'), 'a[31mbcde');
    assert.equal(providerText(' tab\there\r\n\r\nnext\n'), 'tab here next');
    assert.equal(providerText('plain words, ñ and 漢字'), 'plain words, ñ and 漢字');
    assert.equal(providerText('x'.repeat(600)), `${'x'.repeat(500)}…`);
    assert.equal(providerText('x'.repeat(20), { maxLength: 10 }), `${'x'.repeat(10)}…`);
  });

  it('replaces the secrets it is given, the longest form first, before it cuts', () => {
    const redact = secretRedactor(['pass-1', 'pass-1%2B', undefined, '']);
    assert.equal(providerText('got pass-1%2B and pass-1.', { redact }), 'got [redacted] and [redacted].');
    // A control character inside the echo does not let the secret through once it is dropped.
    assert.equal(providerText('got pa\u0007ss-1', { redact }), 'got [redacted]');
    // And a secret that holds one is found before the clean-up changes it.
    assert.equal(providerText('got tab\there', { redact: secretRedactor(['tab\there']) }), 'got [redacted]');
    // Cut after redaction: the start of a secret that straddles the limit is not left behind.
    const cut = providerText(`${'x'.repeat(8)}pass-1`, { redact, maxLength: 10 });
    assert.equal(cut.includes('pa'), false, cut);
    assert.equal(providerText('nothing to hide', { redact: secretRedactor([]) }), 'nothing to hide');
  });
});

describe('small decisions', () => {
  it('normalises scope sets written with commas, spaces or pluses', () => {
    assert.equal(normaliseScope('read,write', ' '), 'read write');
    assert.equal(normaliseScope('read+write', ' '), 'read write');
    assert.equal(normaliseScope(' read ', ' '), 'read');
    assert.equal(normaliseScope('', ' '), undefined);
    assert.equal(normaliseScope(undefined, ' '), undefined);
  });

  it('picks client authentication from what the server lists', () => {
    assert.equal(pickClientAuth(undefined, true), 'client_secret_basic');
    assert.equal(pickClientAuth(['client_secret_post'], true), 'client_secret_post');
    assert.equal(pickClientAuth(['client_secret_post', 'client_secret_basic'], true), 'client_secret_basic');
    assert.equal(pickClientAuth(['client_secret_basic'], false), 'none');
  });

  it('summarises identity answers of several shapes', () => {
    assert.deepEqual(
      summariseIdentity({ data: [{ email: 'a@b.c', company_id: 7, role: 'admin', extra: {} }] }),
      {
        email: 'a@b.c',
        company_id: '7',
        role: 'admin',
      },
    );
    assert.deepEqual(summariseIdentity({ email: 'x@y.z', full_name: 'X Y' }), {
      email: 'x@y.z',
      full_name: 'X Y',
    });
    assert.deepEqual(summariseIdentity('nope'), {});
    assert.deepEqual(summariseIdentity({ email: 'evil\u001b[2J@example.com' }), {
      email: 'evil[2J@example.com',
    });
  });
});
