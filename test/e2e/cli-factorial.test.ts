import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  FACTORIAL_EMULATOR_COMPANY,
  FACTORIAL_EMULATOR_USER,
  type FactorialRunningEmulator,
  startFactorialEmulator,
} from '../../src/emulators/factorial/factorial-emulator.js';
import {
  AUTHORIZATION_URL_LINE,
  type CliSandbox,
  createCliSandbox,
  factorialApiKeyLoginArgs,
  factorialBrowserLoginArgs,
  freePort,
  startBrowserLogin,
  startCli,
} from '../helpers/cli.js';

const OOB = 'urn:ietf:wg:oauth:2.0:oob';
const EMPLOYEES = '/api/2026-07-01/resources/employees/employees';

describe('tokenkeeper CLI against the Factorial emulator', () => {
  let emulator: FactorialRunningEmulator;
  let cli: CliSandbox;
  let redirectUri: string;

  before(async () => {
    redirectUri = `http://127.0.0.1:${await freePort()}/callback`;
    emulator = await startFactorialEmulator({ redirectUris: [redirectUri, OOB] });
    const { clientId, clientSecret, apiKey } = emulator.credentials;
    cli = await createCliSandbox({
      FACTORIAL_CLIENT_ID: clientId,
      FACTORIAL_CLIENT_SECRET: clientSecret,
      FACTORIAL_API_KEY: apiKey,
    });
  });
  after(async () => {
    await emulator.stop();
    await cli.cleanup();
    const transcript = cli.transcript();
    for (const secret of [emulator.credentials.clientSecret, emulator.credentials.apiKey]) {
      assert.equal(transcript.includes(secret), false, 'a secret appeared in CLI output');
    }
  });

  /** Starts a login and plays the browser: follows the printed URL, then the redirect back to the CLI. */
  async function loginThroughBrowser(name: string, extra: string[] = [], tamper?: (callback: URL) => void) {
    const { login, url: authorizeUrl } = await startBrowserLogin(
      [...factorialBrowserLoginArgs(name, emulator, redirectUri), ...extra],
      cli.env,
    );
    const approval = await fetch(authorizeUrl!, { redirect: 'manual' });
    assert.equal(approval.status, 302);
    const callback = new URL(approval.headers.get('location')!);
    tamper?.(callback);
    const landing = await fetch(callback);
    await landing.text();
    return { result: await login.done, authorizeUrl: new URL(authorizeUrl!), landing };
  }

  it('logs in with the authorization code through the loopback redirect', async () => {
    const { result, authorizeUrl } = await loginThroughBrowser('hr', ['--scope', 'read,write']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stderr,
      /Logged in to factorial .* as connection "hr" \(authorization code, scope "read write"\)/,
    );
    assert.equal(authorizeUrl.searchParams.get('scope'), 'read write');
    assert.equal(authorizeUrl.searchParams.has('code_challenge'), false, 'no PKCE for Factorial');
    assert.equal(emulator.stats().tokenRequests.authorization_code, 1);
  });

  it('status names the owner learnt at login, as gh does, without another request', async () => {
    const { firstName, lastName, email } = FACTORIAL_EMULATOR_USER;
    const apiRequests = emulator.stats().apiRequests;
    const status = await cli.run(['status', 'hr', '--json']);
    assert.equal(status.code, 0, status.stderr);
    assert.equal(
      (JSON.parse(status.stdout) as { account?: string }).account,
      `${firstName} ${lastName} <${email}>`,
    );
    assert.match(
      (await cli.run(['status', 'hr'])).stdout,
      new RegExp(`account: +${firstName} ${lastName} <`),
    );
    assert.equal(emulator.stats().apiRequests, apiRequests, 'status asks the provider nothing');
  });

  it('`login NAME` alone logs in again through the browser with the saved client, scope and redirect URI', async () => {
    const before = emulator.stats().tokenRequests.authorization_code ?? 0;
    // No client variables at all: the saved client id and secret are used.
    const { login, url } = await startBrowserLogin(['login', 'hr', '--no-browser'], {
      ...cli.env,
      FACTORIAL_CLIENT_ID: '',
      FACTORIAL_CLIENT_SECRET: '',
    });
    const authorizeUrl = new URL(url);
    assert.equal(authorizeUrl.searchParams.get('client_id'), emulator.credentials.clientId);
    assert.equal(authorizeUrl.searchParams.get('scope'), 'read write');
    assert.equal(authorizeUrl.searchParams.get('redirect_uri'), redirectUri);
    const approval = await fetch(url, { redirect: 'manual' });
    await (await fetch(approval.headers.get('location')!)).text();
    const result = await login.done;
    assert.equal(result.code, 0, result.stderr);
    assert.equal(emulator.stats().tokenRequests.authorization_code, before + 1);
  });

  it('whoami names the owner, from the credentials endpoint', async () => {
    const result = await cli.run(['whoami', 'hr']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /email +demo@factorial\.example/);
    assert.match(result.stderr, /api_public\/credentials/);
    const json = await cli.run(['whoami', 'hr', '--json']);
    assert.ok(JSON.parse(json.stdout));
  });

  it('a login whose identity request fails still succeeds; whoami then records the owner', async () => {
    await fetch(`${emulator.url}/__emulator/faults`, {
      method: 'POST',
      body: JSON.stringify({ point: 'api', status: 403, count: 1 }),
    });
    const { result } = await loginThroughBrowser('hr-quiet');
    assert.equal(result.code, 0, result.stderr);
    const before = JSON.parse((await cli.run(['status', 'hr-quiet', '--json'])).stdout) as {
      account?: string;
    };
    assert.equal(before.account, undefined, 'the owner is unknown, not guessed');
    assert.equal((await cli.run(['whoami', 'hr-quiet'])).code, 0);
    const after = JSON.parse((await cli.run(['status', 'hr-quiet', '--json'])).stdout) as {
      account?: string;
    };
    assert.match(after.account ?? '', /<demo@factorial\.example>$/);
    assert.equal((await cli.run(['logout', 'hr-quiet'])).code, 0);
  });

  it('request reads and writes the API with the Bearer token', async () => {
    const list = await cli.run(['request', 'hr', 'GET', `${EMPLOYEES}?limit=5`]);
    assert.equal(list.code, 0, list.stderr);
    const body = JSON.parse(list.stdout) as { data: unknown[]; meta: { has_next_page: boolean } };
    assert.equal(body.data.length, 5);
    assert.equal(body.meta.has_next_page, true);
    const created = await cli.run([
      'request',
      'hr',
      'POST',
      EMPLOYEES,
      '--data',
      JSON.stringify({ first_name: 'Grace', last_name: 'Hopper', email: 'grace@example.com' }),
    ]);
    assert.equal(created.code, 0, created.stderr);
  });

  it('keeps one connection per scope set: a read-only connection cannot write', async () => {
    const { result } = await loginThroughBrowser('hr-read', ['--scope', 'read']);
    assert.equal(result.code, 0, result.stderr);
    const denied = await cli.run([
      'request',
      'hr-read',
      'POST',
      EMPLOYEES,
      '--data',
      JSON.stringify({ first_name: 'A', last_name: 'B', email: 'a@example.com' }),
    ]);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /HTTP 403/);
    const status = JSON.parse((await cli.run(['status', '--json'])).stdout) as Array<{
      name: string;
      scope: string;
    }>;
    assert.deepEqual(
      status.map((c) => [c.name, c.scope]),
      [
        ['hr', 'read write'],
        ['hr-read', 'read'],
      ],
    );
  });

  it('out of band: prints the URL and takes the pasted code', async () => {
    const login = startCli(factorialBrowserLoginArgs('hr-oob', emulator, OOB), cli.env);
    const [, authorizeUrl] = await login.waitForStderr(AUTHORIZATION_URL_LINE);
    await login.waitForStderr(/Paste the code/);
    const page = await fetch(authorizeUrl!);
    const html = await page.text();
    const code = html.match(/id="authorization_code">([^<]+)</)?.[1];
    assert.ok(code, 'the page shows the code');
    login.write(`${code}\n`);
    const result = await login.done;
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /as connection "hr-oob"/);
  });

  it('answers a redirect that carries another state with a 400, and keeps waiting for the real one', async () => {
    const { login, url } = await startBrowserLogin(
      factorialBrowserLoginArgs('forged', emulator, redirectUri),
      cli.env,
    );
    const approval = await fetch(url, { redirect: 'manual' });
    const callback = new URL(approval.headers.get('location')!);
    const forged = new URL(callback);
    forged.searchParams.set('state', 'not-the-one-we-sent');
    const refused = await fetch(forged);
    assert.equal(refused.status, 400);
    await refused.text();
    assert.equal((await cli.run(['status', 'forged'])).code, 1, 'nothing saved yet');
    const landing = await fetch(callback);
    assert.equal(landing.status, 200);
    await landing.text();
    const result = await login.done;
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /as connection "forged"/);
  });

  it('shows provider errors in plain words before any browser opens', async () => {
    const wrongClient = await cli.run(factorialBrowserLoginArgs('bad', emulator, redirectUri), {
      env: { FACTORIAL_CLIENT_ID: 'no-such-client' },
    });
    assert.equal(wrongClient.code, 1);
    assert.match(wrongClient.stderr, /invalid_client.*does not recognise this client id/s);

    const unregistered = await cli.run(
      factorialBrowserLoginArgs('bad', emulator, 'http://127.0.0.1:1/elsewhere'),
    );
    assert.equal(unregistered.code, 1);
    assert.match(
      unregistered.stderr,
      /invalid_redirect_uri.*Register it in your Factorial OAuth application/s,
    );
  });

  it('API key: verified against the provider before it is saved, then sent as x-api-key', async () => {
    const before = emulator.stats().apiRequests;
    const login = await cli.run(factorialApiKeyLoginArgs('hr-key', emulator));
    assert.equal(login.code, 0, login.stderr);
    assert.match(login.stderr, /api key/);
    assert.match(login.stderr, /does not expire/);
    assert.equal(emulator.stats().apiRequests, before + 1, 'one verification request');
    // The verification request named the owner: a company, for an API key.
    const status = JSON.parse((await cli.run(['status', 'hr-key', '--json'])).stdout) as { account?: string };
    assert.equal(status.account, FACTORIAL_EMULATOR_COMPANY.name);
    const whoami = await cli.run(['whoami', 'hr-key']);
    assert.equal(whoami.code, 0, whoami.stderr);
    const list = await cli.run(['request', 'hr-key', 'GET', `${EMPLOYEES}?limit=1`]);
    assert.equal(list.code, 0, list.stderr);
    const token = await cli.run(['token', 'hr-key']);
    assert.equal(token.stdout.trim(), emulator.credentials.apiKey);
    const refresh = await cli.run(['refresh', 'hr-key']);
    assert.equal(refresh.code, 2);
    assert.match(refresh.stderr, /does not expire/);

    const wrong = await cli.run(factorialApiKeyLoginArgs('hr-badkey', emulator), {
      env: { FACTORIAL_API_KEY: 'wrong-key' },
    });
    // The provider's refusal, not a usage error.
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /rejected the API key \(HTTP 401\); nothing was saved/);
    assert.equal((await cli.run(['status', 'hr-badkey'])).code, 1);
  });

  it('logout revokes the tokens at the provider, then forgets the connection', async () => {
    const token = (await cli.run(['token', 'hr'])).stdout.trim();
    const before = emulator.stats();
    const result = await cli.run(['logout', 'hr']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /the provider revoked its tokens/);
    assert.equal(emulator.stats().revocations, (before.revocations ?? 0) + 2);
    const api = await fetch(`${emulator.url}${EMPLOYEES}`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(api.status, 401);
    await api.text();
    assert.equal((await cli.run(['status', 'hr'])).code, 1);
  });
});
