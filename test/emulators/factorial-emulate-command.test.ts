import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runEmulate } from '../../src/cli/emulate.js';

function capture() {
  let stdout = '';
  let stderr = '';
  return {
    io: {
      stdout: { write: (chunk: string) => (stdout += chunk) },
      stderr: { write: (chunk: string) => (stderr += chunk) },
    },
    out: () => stdout,
    err: () => stderr,
  };
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 10));
}

interface JsonInfo {
  provider: string;
  url: string;
  tokenUrl: string;
  authorizeUrl: string;
  revokeUrl: string;
  clientId: string;
  clientSecret: string;
  redirectUris: string[];
  apiKey: string;
  user: { email: string; password: string };
}

/** Starts `tokenkeeper emulate …` in process; `stop()` aborts it and returns the exit code. */
async function emulate(argv: string[]) {
  const { io, out, err } = capture();
  const controller = new AbortController();
  const exit = runEmulate(argv, { ...io, signal: controller.signal });
  await until(() => (argv.includes('--json') ? out().includes('\n') : out().includes('Ctrl+C')));
  return {
    out,
    err,
    stop: async () => {
      controller.abort();
      return exit;
    },
  };
}

describe('tokenkeeper emulate factorial', () => {
  const bad: Array<[string[], RegExp]> = [
    [['factorial', '--consent', 'maybe'], /--consent must be one of auto, form, got "maybe"/],
    [['factorial', '--reused-code', 'twice'], /--reused-code must be one of invalid_grant, same-token/],
    [['factorial', '--redirect-uri', 'not a uri'], /--redirect-uri must be an absolute URI/],
    [['factorial', '--redirect-uri', 'http://127.0.0.1:1/cb#frag'], /--redirect-uri must be an absolute URI/],
    [['factorial', '--post-limit-v1', '0'], /--post-limit-v1 must be a whole number 1 or more/],
    [['factorial', '--post-limit-v2', 'lots'], /--post-limit-v2 must be a whole number 1 or more/],
    [['factorial', '--rotation', 'never'], /--rotation must be one of strict, grace, off/],
    [
      ['factus', '--access-ttl', '-1'],
      /--access-ttl needs a value; to give it "-1", write --access-ttl=-1\./,
    ],
    [['factus', '--access-ttl=-1'], /--access-ttl must be a whole number 1 or more, got "-1"/],
    [['factorial', '--app-scopes', 'employees bogus'], /--app-scopes takes scopes .* got unknown "bogus"/],
    [
      ['factorial', '--app-scopes', ''],
      /--app-scopes takes scopes separated by spaces from: read, write, .* got none/,
    ],
    [['factus', '--grace', '5'], /--grace is the grace period of --rotation grace; add --rotation grace/],
    [['factus', '--grace', '5', '--rotation', 'strict'], /--grace is the grace period of --rotation grace/],
    [
      ['factorial', '--rate-limit', '5'],
      /--rate-limit is not an option of the factorial emulator \(only of factus\)/,
    ],
    [
      ['factus', '--consent', 'form'],
      /--consent is not an option of the factus emulator \(only of factorial\)/,
    ],
    [
      ['factus', '--redirect-uri', 'http://127.0.0.1:1/cb'],
      /--redirect-uri is not an option of the factus emulator/,
    ],
  ];
  for (const [argv, message] of bad) {
    test(`${JSON.stringify(argv)} is bad usage: exit 2, a message and the usage on stderr`, async () => {
      const { io, out, err } = capture();
      assert.equal(await runEmulate(argv, io), 2);
      assert.match(err(), message);
      assert.match(err(), /Usage: tokenkeeper emulate <provider>/);
      assert.equal(out(), '');
    });
  }

  test('--help lists the factorial options', async () => {
    const { io, out } = capture();
    assert.equal(await runEmulate(['--help'], io), 0);
    assert.match(
      out(),
      /factorial: \[--consent auto\|form\] \[--reused-code same-token\|invalid_grant\] \[--redirect-uri URI\]\.\.\./,
    );
    assert.match(out(), /Providers: factus, factorial\./);
  });

  test('--json prints exactly one line with the endpoints and credentials; settings reach the emulator', async () => {
    const running = await emulate([
      'factorial',
      '--json',
      '--access-ttl',
      '120',
      '--reused-code',
      'same-token',
      '--redirect-uri',
      'http://127.0.0.1:45678/cb',
      '--redirect-uri',
      'urn:ietf:wg:oauth:2.0:oob',
    ]);
    const lines = running.out().trimEnd().split('\n');
    assert.equal(lines.length, 1);
    const info = JSON.parse(lines[0]!) as JsonInfo;
    assert.deepEqual(Object.keys(info), [
      'provider',
      'url',
      'tokenUrl',
      'authorizeUrl',
      'revokeUrl',
      'clientId',
      'clientSecret',
      'redirectUris',
      'apiKey',
      'user',
    ]);
    assert.deepEqual(info.user, { email: 'demo@factorial.example', password: 'factorial-emulator-password' });
    assert.equal(info.provider, 'factorial');
    assert.match(info.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(info.tokenUrl, `${info.url}/oauth/token`);
    assert.equal(info.authorizeUrl, `${info.url}/oauth/authorize`);
    assert.equal(info.revokeUrl, `${info.url}/oauth/revoke`);
    assert.deepEqual(info.redirectUris, ['http://127.0.0.1:45678/cb', 'urn:ietf:wg:oauth:2.0:oob']);

    const authorize = new URL(info.authorizeUrl);
    authorize.search = new URLSearchParams({
      client_id: info.clientId,
      redirect_uri: info.redirectUris[0]!,
      response_type: 'code',
    }).toString();
    const redirect = await fetch(authorize, { redirect: 'manual' });
    assert.equal(redirect.status, 302);
    const code = new URL(redirect.headers.get('location')!).searchParams.get('code')!;
    const exchange = async () =>
      (await (
        await fetch(info.tokenUrl, {
          method: 'POST',
          body: new URLSearchParams({
            grant_type: 'authorization_code',
            client_id: info.clientId,
            client_secret: info.clientSecret,
            code,
            redirect_uri: info.redirectUris[0]!,
          }),
        })
      ).json()) as Record<string, unknown>;
    const first = await exchange();
    assert.equal(first.expires_in, 120);
    assert.equal((await exchange()).access_token, first.access_token);
    const me = await fetch(`${info.url}/api/v1/me`, { headers: { 'x-api-key': info.apiKey } });
    assert.equal(me.status, 200);

    assert.equal(await running.stop(), 0);
    assert.equal(running.err(), '');
    await assert.rejects(fetch(info.tokenUrl));
  });

  test('the human banner: URLs, credentials, redirect URIs, export lines and both login commands', async () => {
    const running = await emulate(['factorial']);
    const text = running.out();
    const url = text.match(/^ {2}URL:\s+(http:\/\/127\.0\.0\.1:\d+)$/m)?.[1];
    assert.ok(url, text);
    assert.match(text, new RegExp(`^ {2}authorize URL:\\s+${url}/oauth/authorize$`, 'm'));
    assert.match(text, new RegExp(`^ {2}revoke URL:\\s+${url}/oauth/revoke$`, 'm'));
    assert.match(text, /^ {2}client id:\s+factorial-emulator-client$/m);
    assert.match(
      text,
      /^ {2}redirect URIs:\s+http:\/\/127\.0\.0\.1:8765\/callback, urn:ietf:wg:oauth:2\.0:oob$/m,
    );
    assert.match(text, /^ {2}API key:\s+\S+$/m);
    assert.match(text, /^ {2}user:\s+demo@factorial\.example$/m);
    assert.match(text, /^export FACTORIAL_CLIENT_ID=factorial-emulator-client$/m);
    assert.match(text, /^export FACTORIAL_CLIENT_SECRET=\S+$/m);
    assert.match(text, /^export FACTORIAL_API_KEY=\S+$/m);
    assert.doesNotMatch(text, /export \S*REDIRECT/);
    assert.match(text, new RegExp(`^tokenkeeper login \\S+ --provider factorial --base-url ${url}$`, 'm'));
    assert.match(
      text,
      new RegExp(`^tokenkeeper login \\S+ --provider factorial --base-url ${url} --grant api_key$`, 'm'),
    );
    assert.equal(await running.stop(), 0);
    assert.match(running.err(), /Factorial emulator stopped\./);
  });

  test('a custom first redirect URI goes into the login command; --consent form serves the form', async () => {
    const running = await emulate([
      'factorial',
      '--consent',
      'form',
      '--redirect-uri',
      'http://127.0.0.1:45679/cb',
    ]);
    const text = running.out();
    const url = text.match(/^ {2}URL:\s+(http:\/\/127\.0\.0\.1:\d+)$/m)?.[1];
    assert.match(
      text,
      new RegExp(
        `^tokenkeeper login \\S+ --provider factorial --base-url ${url} --redirect-uri http://127\\.0\\.0\\.1:45679/cb$`,
        'm',
      ),
    );
    assert.match(text, /^ {2}consent:\s+form/m);
    const authorize = new URL(`${url}/oauth/authorize`);
    authorize.search = new URLSearchParams({
      client_id: 'factorial-emulator-client',
      redirect_uri: 'http://127.0.0.1:45679/cb',
      response_type: 'code',
    }).toString();
    const page = await fetch(authorize, { redirect: 'manual', headers: { accept: 'text/html' } });
    assert.equal(page.status, 200);
    assert.match(await page.text(), /id="authorize"/);
    assert.equal(await running.stop(), 0);
  });
});
