import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { FakeClock } from '../../src/clock.js';
import {
  type FactorialEmulatorOptions,
  type FactorialRunningEmulator,
  startFactorialEmulator,
} from '../../src/emulators/factorial/factorial-emulator.js';
import { readJson } from './helpers.js';

const CALLBACK = 'http://127.0.0.1:8765/callback';
const OOB = 'urn:ietf:wg:oauth:2.0:oob';
const START = Date.UTC(2026, 0, 1, 12, 0, 0);
const INVALID_GRANT =
  'The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.';
const INVALID_CLIENT =
  'Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.';
const OTHER_CLIENT = { clientId: 'other-app', clientSecret: 'other-secret' };

const running: FactorialRunningEmulator[] = [];
after(() => Promise.all(running.map((emulator) => emulator.stop())));

async function start(options: FactorialEmulatorOptions = {}) {
  const clock = new FakeClock(START);
  const emulator = await startFactorialEmulator({
    now: () => clock.now(),
    additionalClients: [OTHER_CLIENT],
    ...options,
  });
  running.push(emulator);
  return { emulator, clock };
}

type Params = Record<string, string | undefined>;

function authorizeUrl(emulator: FactorialRunningEmulator, params: Params = {}): URL {
  const url = new URL(emulator.authorizeUrl);
  const all: Params = {
    client_id: emulator.credentials.clientId,
    redirect_uri: CALLBACK,
    response_type: 'code',
    scope: 'read write',
    ...params,
  };
  for (const [name, value] of Object.entries(all)) if (value !== undefined) url.searchParams.set(name, value);
  return url;
}

interface Reply {
  status: number;
  headers: Headers;
  text: string;
  location?: URL;
}

async function send(url: URL | string, init: RequestInit = {}): Promise<Reply> {
  const response = await fetch(url, { redirect: 'manual', ...init });
  const location = response.headers.get('location');
  return {
    status: response.status,
    headers: response.headers,
    text: await response.text(),
    ...(location ? { location: new URL(location) } : {}),
  };
}

const HTML = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };
const JSON_ONLY = { accept: 'application/json' };

/** Auto consent: the code from the redirect. */
async function getCode(emulator: FactorialRunningEmulator, params: Params = {}): Promise<string> {
  const reply = await send(authorizeUrl(emulator, params), { headers: HTML });
  assert.equal(reply.status, 302, reply.text);
  const code = reply.location?.searchParams.get('code');
  assert.ok(code);
  return code;
}

function postForm(url: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields).toString(),
  });
}

async function exchange(
  emulator: FactorialRunningEmulator,
  code: string,
  overrides: Record<string, string | undefined> = {},
) {
  const fields: Record<string, string | undefined> = {
    grant_type: 'authorization_code',
    client_id: emulator.credentials.clientId,
    client_secret: emulator.credentials.clientSecret,
    code,
    redirect_uri: CALLBACK,
    ...overrides,
  };
  const defined = Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
  return readJson(await postForm(emulator.tokenUrl, defined as Record<string, string>));
}

async function refresh(emulator: FactorialRunningEmulator, refreshToken: string) {
  return readJson(
    await postForm(emulator.tokenUrl, {
      grant_type: 'refresh_token',
      client_id: emulator.credentials.clientId,
      client_secret: emulator.credentials.clientSecret,
      refresh_token: refreshToken,
    }),
  );
}

async function me(emulator: FactorialRunningEmulator, accessToken: string) {
  return readJson(
    await fetch(`${emulator.url}/api/v1/me`, { headers: { authorization: `Bearer ${accessToken}` } }),
  );
}

function formFields(html: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const match of html.matchAll(/<input[^>]*\bname="([^"]+)"[^>]*\bvalue="([^"]*)"/g)) {
    fields[match[1] as string] = (match[2] as string).replace(/&#(\d+);/g, (_all, code) =>
      String.fromCharCode(Number(code)),
    );
  }
  return fields;
}

describe('Factorial authorization endpoint', () => {
  test('auto consent redirects to the registered URI with a 64-hex code and the state, and counts it', async () => {
    const { emulator } = await start();
    const reply = await send(authorizeUrl(emulator, { state: 'a b&c=d/é' }), { headers: HTML });
    assert.equal(reply.status, 302);
    const location = reply.location!;
    assert.equal(`${location.origin}${location.pathname}`, CALLBACK);
    assert.match(location.searchParams.get('code') ?? '', /^[0-9a-f]{64}$/);
    assert.equal(location.searchParams.get('state'), 'a b&c=d/é');
    assert.deepEqual([...location.searchParams.keys()], ['code', 'state']);

    const stateless = await send(authorizeUrl(emulator), { headers: HTML });
    assert.deepEqual([...stateless.location!.searchParams.keys()], ['code']);
    assert.equal(emulator.stats().authorizations, 2);
  });

  test('the redirectUris option registers other loopback ports, matched exactly', async () => {
    const { emulator } = await start({ redirectUris: ['http://127.0.0.1:40123/cb'] });
    assert.equal(emulator.credentials.redirectUri, 'http://127.0.0.1:40123/cb');
    assert.deepEqual(emulator.credentials.redirectUris, ['http://127.0.0.1:40123/cb']);
    const ok = await send(authorizeUrl(emulator, { redirect_uri: 'http://127.0.0.1:40123/cb' }));
    assert.equal(ok.status, 302);
    assert.equal(ok.location?.port, '40123');
    for (const other of [CALLBACK, 'http://127.0.0.1:40123/cb/', 'http://localhost:40123/cb', OOB]) {
      const refused = await send(authorizeUrl(emulator, { redirect_uri: other }), { headers: JSON_ONLY });
      assert.equal(refused.status, 400, other);
      assert.equal(refused.location, undefined);
    }
  });

  test('the consent form: sign in and Authorize gives a code; the form is single-use', async () => {
    const { emulator } = await start({ consent: 'form' });
    const page = await send(authorizeUrl(emulator, { state: 's1' }), { headers: HTML });
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    for (const id of ['authorize', 'deny', 'user_email', 'user_password', 'authenticity_token']) {
      assert.match(page.text, new RegExp(`id="${id}"`), id);
    }
    assert.match(page.text, />Authorize</);
    assert.match(page.text, />Deny</);
    const fields = formFields(page.text);
    assert.equal(fields.email, emulator.credentials.user.email);
    assert.equal(fields.password, emulator.credentials.user.password);
    assert.match(fields.authenticity_token ?? '', /^[0-9a-f]{64}$/);
    assert.equal(emulator.stats().authorizations, 0);

    const approved = await send(emulator.authorizeUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...fields, commit: 'authorize' }),
    });
    assert.equal(approved.status, 302);
    assert.equal(approved.location?.searchParams.get('state'), 's1');
    const code = approved.location?.searchParams.get('code');
    assert.ok(code);
    assert.equal((await exchange(emulator, code)).status, 200);
    assert.equal(emulator.stats().authorizations, 1);

    const again = await send(emulator.authorizeUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...JSON_ONLY },
      body: new URLSearchParams({ ...fields, commit: 'authorize' }),
    });
    assert.equal(again.status, 422);
    assert.equal(JSON.parse(again.text).error, 'invalid_request');
    assert.equal(again.location, undefined);
  });

  test('the consent form: a wrong password shows the form again; Deny redirects with access_denied', async () => {
    const { emulator } = await start({ consent: 'form' });
    const page = await send(authorizeUrl(emulator, { state: 'd1' }), { headers: HTML });
    const fields = formFields(page.text);
    const post = (extra: Record<string, string>) =>
      send(emulator.authorizeUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ ...fields, ...extra }),
      });

    const wrong = await post({ password: 'nope', commit: 'authorize' });
    assert.equal(wrong.status, 401);
    assert.match(wrong.text, /id="notice"[^>]*>Invalid email or password\./);
    assert.equal(formFields(wrong.text).authenticity_token, fields.authenticity_token);

    const denied = await post({ commit: 'deny', password: '' });
    assert.equal(denied.status, 302);
    const location = denied.location!;
    assert.equal(`${location.origin}${location.pathname}`, CALLBACK);
    assert.equal(location.searchParams.get('error'), 'access_denied');
    assert.equal(
      location.searchParams.get('error_description'),
      'The resource owner or authorization server denied the request.',
    );
    assert.equal(location.searchParams.get('state'), 'd1');
    assert.equal(location.searchParams.get('code'), null);
    assert.equal(emulator.stats().authorizations, 0);
  });

  test('out of band: the code is shown on /oauth/authorize/native and exchanges with the oob redirect URI', async () => {
    const { emulator } = await start();
    const reply = await send(authorizeUrl(emulator, { redirect_uri: OOB, state: 'ignored' }), {
      headers: HTML,
    });
    assert.equal(reply.status, 302);
    assert.equal(reply.location?.origin, emulator.url);
    assert.equal(reply.location?.pathname, '/oauth/authorize/native');
    const page = await send(reply.location!);
    assert.equal(page.status, 200);
    const code = page.text.match(/<code id="authorization_code">([^<]+)<\/code>/)?.[1];
    assert.match(code ?? '', /^[0-9a-f]{64}$/);
    assert.equal((await exchange(emulator, code!, { redirect_uri: CALLBACK })).body.error, 'invalid_grant');
    const token = await exchange(emulator, code!, { redirect_uri: OOB });
    assert.equal(token.status, 200);

    const missing = await send(`${emulator.url}/oauth/authorize/native`, { headers: JSON_ONLY });
    assert.equal(missing.status, 400);
  });

  test('out of band with the consent form: Authorize leads to the code page', async () => {
    const { emulator } = await start({ consent: 'form' });
    const page = await send(authorizeUrl(emulator, { redirect_uri: OOB }), { headers: HTML });
    const approved = await send(emulator.authorizeUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...formFields(page.text), commit: 'authorize' }),
    });
    assert.equal(approved.location?.pathname, '/oauth/authorize/native');
    const shown = await send(approved.location!);
    assert.match(shown.text, /<code id="authorization_code">[0-9a-f]{64}<\/code>/);
  });

  describe('errors before the redirect URI is trusted: a page (or JSON), never a redirect', () => {
    const cases: Array<[string, Params, number, string, string]> = [
      [
        'no client_id',
        { client_id: undefined },
        400,
        'invalid_request',
        'Missing required parameter: client_id.',
      ],
      ['an unknown client_id', { client_id: 'nobody' }, 401, 'invalid_client', INVALID_CLIENT],
      [
        'an unknown client_id with a foreign redirect URI',
        { client_id: 'nobody', redirect_uri: 'https://evil.example/steal' },
        401,
        'invalid_client',
        INVALID_CLIENT,
      ],
      [
        'no redirect_uri',
        { redirect_uri: undefined },
        400,
        'invalid_request',
        'Missing required parameter: redirect_uri.',
      ],
      [
        'an unregistered redirect_uri',
        { redirect_uri: 'https://evil.example/steal', response_type: 'token', scope: 'admin' },
        400,
        'invalid_redirect_uri',
        "The requested redirect uri is malformed or doesn't match client redirect URI.",
      ],
      [
        'a loopback redirect_uri with another path (any port is fine, the path is not)',
        { redirect_uri: 'http://127.0.0.1:8766/elsewhere' },
        400,
        'invalid_redirect_uri',
        "The requested redirect uri is malformed or doesn't match client redirect URI.",
      ],
      [
        'a redirect_uri registered for another client',
        { client_id: OTHER_CLIENT.clientId, redirect_uri: 'http://127.0.0.1:9/elsewhere' },
        400,
        'invalid_redirect_uri',
        "The requested redirect uri is malformed or doesn't match client redirect URI.",
      ],
    ];
    for (const [what, params, status, error, description] of cases) {
      test(`${what}: ${status} ${error}`, async () => {
        const { emulator } = await start();
        const page = await send(authorizeUrl(emulator, params), { headers: HTML });
        assert.equal(page.status, status);
        assert.equal(page.location, undefined);
        assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
        assert.match(page.text, new RegExp(`<code id="error">${error}</code>`));
        assert.ok(page.text.includes(description.replace(/'/g, '&#39;')), page.text);

        const json = await readJson(
          await fetch(authorizeUrl(emulator, params), { headers: JSON_ONLY, redirect: 'manual' }),
        );
        assert.equal(json.status, status);
        assert.equal(json.headers.get('location'), null);
        assert.deepEqual(json.body, { error, error_description: description });
        assert.equal(emulator.stats().authorizations, 0);
      });
    }
  });

  describe('errors after the redirect URI is trusted: back to it with error, error_description and state', () => {
    const cases: Array<[string, Params, string, string]> = [
      [
        'response_type=token',
        { response_type: 'token' },
        'unsupported_response_type',
        'The authorization server does not support this response type.',
      ],
      [
        'no response_type',
        { response_type: undefined },
        'invalid_request',
        'Missing required parameter: response_type.',
      ],
      [
        'scope=admin',
        { scope: 'admin' },
        'invalid_scope',
        'The requested scope is invalid, unknown, or malformed.',
      ],
      [
        'scope=read,delete',
        { scope: 'read,delete' },
        'invalid_scope',
        'The requested scope is invalid, unknown, or malformed.',
      ],
      [
        'resource_owner_type=team',
        { resource_owner_type: 'team' },
        'invalid_request',
        'The request is missing a required parameter, includes an unsupported parameter value, or is otherwise malformed.',
      ],
    ];
    for (const [what, params, error, description] of cases) {
      test(`${what}: ${error}`, async () => {
        const { emulator } = await start();
        const redirected = await send(authorizeUrl(emulator, { ...params, state: 'st' }), { headers: HTML });
        assert.equal(redirected.status, 302);
        const location = redirected.location!;
        assert.equal(`${location.origin}${location.pathname}`, CALLBACK);
        assert.deepEqual(Object.fromEntries(location.searchParams), {
          error,
          error_description: description,
          state: 'st',
        });

        const json = await readJson(
          await fetch(authorizeUrl(emulator, { ...params, state: 'st' }), {
            headers: JSON_ONLY,
            redirect: 'manual',
          }),
        );
        assert.equal(json.status, 400);
        assert.deepEqual(json.body, { error, error_description: description });

        const oob = await send(authorizeUrl(emulator, { ...params, redirect_uri: OOB }), { headers: HTML });
        assert.equal(oob.status, 400);
        assert.equal(oob.location, undefined);
        assert.match(oob.text, new RegExp(`<code id="error">${error}</code>`));
        assert.equal(emulator.stats().authorizations, 0);
      });
    }
  });

  test('a JSON pre-flight of a good request answers the pre-authorization and issues no code', async () => {
    for (const consent of ['auto', 'form'] as const) {
      const { emulator } = await start({ consent });
      const reply = await readJson(
        await fetch(authorizeUrl(emulator, { state: 'pf', scope: 'read' }), {
          headers: JSON_ONLY,
          redirect: 'manual',
        }),
      );
      assert.equal(reply.status, 200);
      assert.deepEqual(reply.body, {
        client_id: emulator.credentials.clientId,
        redirect_uri: CALLBACK,
        state: 'pf',
        response_type: 'code',
        scope: 'read',
        client_name: 'tokenkeeper (emulated app)',
        status: 'Pre-authorization',
      });
      assert.equal(emulator.stats().authorizations, 0);
    }
  });

  test('scopes may be separated by spaces, commas or plus signs; none means read and write', async () => {
    const { emulator } = await start();
    const scopeOf = async (scope: string | undefined) => {
      const token = await exchange(emulator, await getCode(emulator, { scope }));
      return token.body.scope;
    };
    assert.equal(await scopeOf('read,write'), 'read write');
    assert.equal(await scopeOf('write+read'), 'read write');
    assert.equal(await scopeOf('read'), 'read');
    assert.equal(await scopeOf('write'), 'write');
    assert.equal(await scopeOf(undefined), 'read write');
    // A raw `+` in the query string is a space once decoded.
    const raw = new URL(authorizeUrl(emulator, { scope: undefined }));
    const reply = await send(`${raw.toString()}&scope=read+write`);
    const code = reply.location?.searchParams.get('code');
    assert.equal((await exchange(emulator, code!)).body.scope, 'read write');
  });
});

describe('Factorial token endpoint', () => {
  test('authorization_code: the Doorkeeper token response with created_at', async () => {
    const { emulator, clock } = await start();
    const code = await getCode(emulator);
    await clock.advance(1500);
    const reply = await exchange(emulator, code);
    assert.equal(reply.status, 200);
    assert.equal(reply.headers.get('cache-control'), 'no-store');
    assert.deepEqual(Object.keys(reply.body), [
      'access_token',
      'token_type',
      'expires_in',
      'refresh_token',
      'scope',
      'created_at',
    ]);
    assert.match(reply.body.access_token as string, /^[0-9a-f]{64}$/);
    assert.match(reply.body.refresh_token as string, /^[0-9a-f]{64}$/);
    assert.equal(reply.body.token_type, 'Bearer');
    assert.equal(reply.body.expires_in, 7200);
    assert.equal(reply.body.scope, 'read write');
    assert.equal(reply.body.created_at, Math.floor((START + 1500) / 1000));
    assert.equal((await me(emulator, reply.body.access_token as string)).status, 200);
    assert.deepEqual(emulator.stats().tokenRequests, { total: 1, authorization_code: 1, refresh_token: 0 });
  });

  test('a reused code fails with invalid_grant and Doorkeeper’s challenge (default mode)', async () => {
    const { emulator } = await start();
    const code = await getCode(emulator);
    assert.equal((await exchange(emulator, code)).status, 200);
    const reused = await exchange(emulator, code);
    assert.equal(reused.status, 400);
    assert.deepEqual(reused.body, { error: 'invalid_grant', error_description: INVALID_GRANT });
    assert.equal(
      reused.headers.get('www-authenticate'),
      `Bearer realm="Doorkeeper", error="invalid_grant", error_description="${INVALID_GRANT}"`,
    );
    assert.equal(reused.headers.get('cache-control'), 'no-store, no-cache');
    assert.equal(emulator.stats().invalidGrant, 1);
  });

  test('same-token mode: the same code again returns exactly the same token until the code expires', async () => {
    const { emulator, clock } = await start({ reusedCode: 'same-token' });
    const code = await getCode(emulator);
    const first = await exchange(emulator, code);
    await clock.advance(60_000);
    const second = await exchange(emulator, code);
    assert.equal(second.status, 200);
    assert.equal(second.body.access_token, first.body.access_token);
    assert.equal(second.body.refresh_token, first.body.refresh_token);
    assert.equal(second.body.created_at, first.body.created_at);
    // Doorkeeper counts expires_in from now: the same expiry date.
    assert.equal(second.body.expires_in, 7140);
    await clock.advance(540_000);
    assert.equal((await exchange(emulator, code)).body.error, 'invalid_grant');
  });

  test('same-token mode: once the token is refreshed away, the code no longer answers', async () => {
    const { emulator } = await start({ reusedCode: 'same-token' });
    const code = await getCode(emulator);
    const first = await exchange(emulator, code);
    assert.equal((await refresh(emulator, first.body.refresh_token as string)).status, 200);
    assert.equal((await exchange(emulator, code)).body.error, 'invalid_grant');
  });

  test('the redirect_uri must be the one of the authorization request; a wrong one does not use the code up', async () => {
    const { emulator } = await start();
    const code = await getCode(emulator);
    const wrong = await exchange(emulator, code, { redirect_uri: OOB });
    assert.equal(wrong.status, 400);
    assert.equal(wrong.body.error, 'invalid_grant');
    const missing = await exchange(emulator, code, { redirect_uri: undefined });
    assert.equal(missing.status, 400);
    assert.deepEqual(missing.body, {
      error: 'invalid_request',
      error_description: 'Missing required parameter: redirect_uri.',
    });
    assert.equal((await exchange(emulator, code)).status, 200);
  });

  test('a code is bound to its client and lives 10 minutes', async () => {
    const { emulator, clock } = await start();
    const code = await getCode(emulator);
    const stolen = await exchange(emulator, code, {
      client_id: OTHER_CLIENT.clientId,
      client_secret: OTHER_CLIENT.clientSecret,
    });
    assert.equal(stolen.status, 400);
    assert.equal(stolen.body.error, 'invalid_grant');

    const late = await getCode(emulator);
    const inTime = await getCode(emulator);
    await clock.advance(599_999);
    assert.equal((await exchange(emulator, inTime)).status, 200);
    await clock.advance(1);
    assert.equal((await exchange(emulator, late)).body.error, 'invalid_grant');
    assert.equal((await exchange(emulator, 'f'.repeat(64))).body.error, 'invalid_grant');
    assert.equal((await exchange(emulator, '', {})).body.error, 'invalid_request');
  });

  test('client authentication: form fields or HTTP Basic; anything else is 401 invalid_client', async () => {
    const { emulator } = await start();
    const expectInvalidClient = (reply: Awaited<ReturnType<typeof exchange>>) => {
      assert.equal(reply.status, 401);
      assert.deepEqual(reply.body, { error: 'invalid_client', error_description: INVALID_CLIENT });
      assert.match(
        reply.headers.get('www-authenticate') ?? '',
        /^Bearer realm="Doorkeeper", error="invalid_client"/,
      );
    };
    expectInvalidClient(await exchange(emulator, await getCode(emulator), { client_secret: 'wrong' }));
    expectInvalidClient(await exchange(emulator, await getCode(emulator), { client_id: undefined }));
    expectInvalidClient(await exchange(emulator, await getCode(emulator), { client_id: 'nobody' }));

    const basic = Buffer.from(
      `${emulator.credentials.clientId}:${emulator.credentials.clientSecret}`,
    ).toString('base64');
    const viaBasic = await readJson(
      await postForm(
        emulator.tokenUrl,
        { grant_type: 'authorization_code', code: await getCode(emulator), redirect_uri: CALLBACK },
        { authorization: `Basic ${basic}` },
      ),
    );
    assert.equal(viaBasic.status, 200);

    const password = await readJson(
      await postForm(emulator.tokenUrl, {
        grant_type: 'password',
        client_id: emulator.credentials.clientId,
        client_secret: emulator.credentials.clientSecret,
        username: emulator.credentials.user.email,
        password: emulator.credentials.user.password,
      }),
    );
    assert.equal(password.status, 400);
    assert.deepEqual(password.body, {
      error: 'unsupported_grant_type',
      error_description: 'The authorization grant type is not supported by the authorization server.',
    });
  });

  test('tokenErrorChallenges: false leaves WWW-Authenticate off token errors', async () => {
    const { emulator } = await start({ tokenErrorChallenges: false });
    const reply = await exchange(emulator, 'unknown');
    assert.equal(reply.body.error, 'invalid_grant');
    assert.equal(reply.headers.get('www-authenticate'), null);
  });

  test('refresh_token rotates strictly: new access and refresh tokens, both old ones revoked', async () => {
    const { emulator, clock } = await start({ accessTtlSeconds: 3600 });
    const first = await exchange(emulator, await getCode(emulator, { scope: 'read' }));
    assert.equal(first.body.expires_in, 3600);
    await clock.advance(10_000);
    const second = await refresh(emulator, first.body.refresh_token as string);
    assert.equal(second.status, 200);
    assert.deepEqual(Object.keys(second.body), Object.keys(first.body));
    assert.notEqual(second.body.access_token, first.body.access_token);
    assert.notEqual(second.body.refresh_token, first.body.refresh_token);
    assert.equal(second.body.scope, 'read');
    assert.equal(second.body.created_at, Math.floor((START + 10_000) / 1000));
    assert.equal(second.body.expires_in, 3600);

    const reused = await refresh(emulator, first.body.refresh_token as string);
    assert.equal(reused.status, 400);
    assert.deepEqual(reused.body, { error: 'invalid_grant', error_description: INVALID_GRANT });
    const old = await me(emulator, first.body.access_token as string);
    assert.equal(old.status, 401);
    assert.equal(old.body.error_description, 'The access token was revoked');
    assert.equal((await me(emulator, second.body.access_token as string)).status, 200);
    assert.deepEqual(emulator.stats().tokenRequests, { total: 3, authorization_code: 1, refresh_token: 2 });
  });

  test('refresh tokens expire after a week by default', async () => {
    const { emulator, clock } = await start();
    const first = await exchange(emulator, await getCode(emulator));
    await clock.advance(7 * 24 * 3600 * 1000);
    assert.equal((await refresh(emulator, first.body.refresh_token as string)).body.error, 'invalid_grant');
  });

  test('a company token has no expires_in and never expires, refreshed ones neither', async () => {
    const { emulator, clock } = await start();
    const company = await exchange(emulator, await getCode(emulator, { resource_owner_type: 'company' }));
    assert.equal(company.status, 200);
    assert.deepEqual(Object.keys(company.body), [
      'access_token',
      'token_type',
      'refresh_token',
      'scope',
      'created_at',
    ]);
    await clock.advance(400 * 24 * 3600 * 1000);
    const credentials = await readJson<{ data: Array<Record<string, unknown>> }>(
      await fetch(`${emulator.url}/api/2026-07-01/resources/api_public/credentials`, {
        headers: { authorization: `Bearer ${company.body.access_token}` },
      }),
    );
    assert.equal(credentials.status, 200);
    // A company token acts for the company and no employee: it carries the company's legal name.
    assert.equal(credentials.body.data[0]?.employee_id, null);
    assert.equal(credentials.body.data[0]?.legal_name, 'Factorial Emulator S.L.');

    const fresh = await exchange(emulator, await getCode(emulator, { resource_owner_type: 'company' }));
    const refreshed = await refresh(emulator, fresh.body.refresh_token as string);
    assert.equal(refreshed.status, 200);
    assert.equal('expires_in' in refreshed.body, false);
  });
});

describe('Factorial token revocation', () => {
  const revoke = async (
    emulator: FactorialRunningEmulator,
    fields: Record<string, string>,
    client: { clientId: string; clientSecret: string } = emulator.credentials,
  ) =>
    readJson(
      await postForm(emulator.revokeUrl, {
        client_id: client.clientId,
        client_secret: client.clientSecret,
        ...fields,
      }),
    );

  test('revoking a refresh token revokes its access token too', async () => {
    const { emulator } = await start();
    const tokens = await exchange(emulator, await getCode(emulator));
    const reply = await revoke(emulator, {
      token: tokens.body.refresh_token as string,
      token_type_hint: 'refresh_token',
    });
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.body, {});
    const denied = await me(emulator, tokens.body.access_token as string);
    assert.equal(denied.status, 401);
    assert.equal(denied.body.error_description, 'The access token was revoked');
    assert.equal((await refresh(emulator, tokens.body.refresh_token as string)).body.error, 'invalid_grant');
    assert.equal(emulator.stats().revocations, 1);
  });

  test('revoking an access token revokes its refresh token too (one Doorkeeper row); hints are ignored', async () => {
    const { emulator } = await start();
    const tokens = await exchange(emulator, await getCode(emulator));
    const reply = await revoke(emulator, {
      token: tokens.body.access_token as string,
      token_type_hint: 'refresh_token',
    });
    assert.equal(reply.status, 200);
    assert.equal((await me(emulator, tokens.body.access_token as string)).status, 401);
    assert.equal((await refresh(emulator, tokens.body.refresh_token as string)).body.error, 'invalid_grant');
  });

  test('an unknown or missing token is 200 {}, and nothing is counted', async () => {
    const { emulator } = await start();
    for (const fields of [{ token: 'f'.repeat(64) }, {}] as Array<Record<string, string>>) {
      const reply = await revoke(emulator, fields);
      assert.equal(reply.status, 200);
      assert.deepEqual(reply.body, {});
    }
    assert.equal(emulator.stats().revocations, 0);
  });

  test('a token issued to another client is 403 unauthorized_client and stays valid', async () => {
    const { emulator } = await start();
    const tokens = await exchange(emulator, await getCode(emulator));
    const reply = await revoke(emulator, { token: tokens.body.refresh_token as string }, OTHER_CLIENT);
    assert.equal(reply.status, 403);
    assert.deepEqual(reply.body, {
      error: 'unauthorized_client',
      error_description: 'You are not authorized to revoke this token',
    });
    assert.equal((await me(emulator, tokens.body.access_token as string)).status, 200);
    assert.equal(emulator.stats().revocations, 0);
  });

  test('client authentication: a bad secret is 401 invalid_client, HTTP Basic works, GET is not allowed', async () => {
    const { emulator } = await start();
    const tokens = await exchange(emulator, await getCode(emulator));
    const bad = await revoke(
      emulator,
      { token: tokens.body.access_token as string },
      { clientId: emulator.credentials.clientId, clientSecret: 'wrong' },
    );
    assert.equal(bad.status, 401);
    assert.deepEqual(bad.body, { error: 'invalid_client', error_description: INVALID_CLIENT });
    assert.equal((await me(emulator, tokens.body.access_token as string)).status, 200);

    const basic = Buffer.from(
      `${emulator.credentials.clientId}:${emulator.credentials.clientSecret}`,
    ).toString('base64');
    const viaBasic = await postForm(
      emulator.revokeUrl,
      { token: tokens.body.access_token as string },
      { authorization: `Basic ${basic}` },
    );
    assert.equal(viaBasic.status, 200);
    assert.equal((await me(emulator, tokens.body.access_token as string)).status, 401);
    assert.equal((await fetch(emulator.revokeUrl)).status, 405);
  });
});
