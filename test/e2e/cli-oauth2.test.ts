import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startFactorialEmulator } from '../../src/emulators/factorial/factorial-emulator.js';
import { startFactusEmulator } from '../../src/emulators/factus/factus-emulator.js';
import {
  type CliSandbox,
  createCliSandbox,
  factorialBrowserLoginArgs,
  freePort,
  startBrowserLogin,
} from '../helpers/cli.js';
import { type OidcServer, startOidcServer } from '../helpers/oidc-server.js';

describe('tokenkeeper login --provider oauth2 against oidc-provider', () => {
  let server: OidcServer;
  let cli: CliSandbox;
  before(async () => {
    server = await startOidcServer();
    const { clientId, clientSecret } = server.clients.confidential;
    cli = await createCliSandbox({
      TOKENKEEPER_CLIENT_ID: clientId,
      TOKENKEEPER_CLIENT_SECRET: clientSecret,
    });
  });
  after(async () => {
    await server.stop();
    await cli.cleanup();
  });

  it('discovers, logs in with PKCE through the loopback redirect, refreshes, answers whoami and revokes on logout', async () => {
    const redirectUri = `http://127.0.0.1:${await freePort()}/callback`;
    const { login, url } = await startBrowserLogin(
      [
        'login',
        'oidc',
        '--provider',
        'oauth2',
        '--issuer',
        server.issuer,
        '--scope',
        'openid offline_access api',
        '--redirect-uri',
        redirectUri,
        '--no-browser',
      ],
      cli.env,
    );
    assert.equal(new URL(url).searchParams.get('code_challenge_method'), 'S256');
    const callback = await server.authorize(url);
    await (await fetch(callback)).text();
    const result = await login.done;
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /Logged in to oauth2 \(http:\/\/127\.0\.0\.1:\d+\) as connection "oidc"/);

    assert.equal((await cli.run(['refresh', 'oidc'])).code, 0);
    assert.equal(server.stats().rotations, 1);
    const whoami = await cli.run(['whoami', 'oidc']);
    assert.equal(whoami.code, 0, whoami.stderr);
    assert.match(whoami.stdout, new RegExp(`sub +${server.account.accountId}`));
    const logout = await cli.run(['logout', 'oidc']);
    assert.equal(logout.code, 0, logout.stderr);
    assert.match(logout.stderr, /the provider revoked its tokens/);
  });

  it('client credentials with TOKENKEEPER_CLIENT_ID / _SECRET', async () => {
    const { clientId, clientSecret } = server.clients.machine;
    const result = await cli.run(
      [
        'login',
        'machine',
        '--provider',
        'oauth2',
        '--issuer',
        server.issuer,
        '--grant',
        'client_credentials',
      ],
      { env: { TOKENKEEPER_CLIENT_ID: clientId, TOKENKEEPER_CLIENT_SECRET: clientSecret } },
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match((await cli.run(['token', 'machine'])).stdout, /^\S+\n$/);
  });

  it('says what is missing when neither issuer nor token URL is given', async () => {
    const result = await cli.run([
      'login',
      'nothing',
      '--provider',
      'oauth2',
      '--grant',
      'client_credentials',
    ]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /needs --issuer .* or --token-url/);
  });
});

describe('denied consent through the CLI', () => {
  it('a Deny on the consent page ends the login with plain words, and nothing is saved', async () => {
    const redirectUri = `http://127.0.0.1:${await freePort()}/callback`;
    const emulator = await startFactorialEmulator({ consent: 'form', redirectUris: [redirectUri] });
    const { clientId, clientSecret } = emulator.credentials;
    const cli = await createCliSandbox({
      FACTORIAL_CLIENT_ID: clientId,
      FACTORIAL_CLIENT_SECRET: clientSecret,
    });
    try {
      const { login, url } = await startBrowserLogin(
        factorialBrowserLoginArgs('hr', emulator, redirectUri),
        cli.env,
      );
      const page = await (await fetch(url)).text();
      const form = new URLSearchParams();
      for (const [, name, value] of page.matchAll(/<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g))
        form.set(name!, value!);
      form.set('commit', 'deny');
      const denied = await fetch(new URL('/oauth/authorize', emulator.url), {
        method: 'POST',
        body: form,
        redirect: 'manual',
      });
      const location = denied.headers.get('location');
      assert.ok(location?.startsWith(redirectUri), `expected a redirect back, got HTTP ${denied.status}`);
      await (await fetch(location!)).text();
      const result = await login.done;
      assert.equal(result.code, 1);
      assert.match(result.stderr, /access_denied.*declined in the browser/s);
      assert.equal((await cli.run(['status', 'hr'])).code, 1);
    } finally {
      await emulator.stop();
      await cli.cleanup();
    }
  });
});

describe('the generic password grant from a script', () => {
  it('takes the user and password from TOKENKEEPER_USERNAME / _PASSWORD, and names them when missing', async () => {
    // Any OAuth 2.0 token endpoint with the password grant: the Factus emulator's.
    const factus = await startFactusEmulator();
    const { clientId, clientSecret, username, password } = factus.credentials;
    const cli = await createCliSandbox({
      TOKENKEEPER_CLIENT_ID: clientId,
      TOKENKEEPER_CLIENT_SECRET: clientSecret,
    });
    try {
      const login = [
        'login',
        'g',
        '--provider',
        'oauth2',
        '--token-url',
        factus.tokenUrl,
        '--grant',
        'password',
      ];
      const missing = await cli.run(login);
      assert.equal(missing.code, 2, missing.stderr);
      assert.match(
        missing.stderr,
        /\n {2}TOKENKEEPER_USERNAME: user \(e-mail\)\n {2}TOKENKEEPER_PASSWORD: password\n$/,
      );
      assert.doesNotMatch(missing.stderr, /undefined/);

      const env = { TOKENKEEPER_USERNAME: username, TOKENKEEPER_PASSWORD: password };
      const result = await cli.run(login, { env });
      assert.equal(result.code, 0, result.stderr);
      assert.equal(factus.stats().tokenRequests.password, 1);
      const status = JSON.parse((await cli.run(['status', 'g', '--json'])).stdout) as { account: string };
      assert.equal(status.account, username);
      // Logging in again in CI: the saved user, the password from the environment.
      const again = await cli.run(['login', 'g'], { env: { TOKENKEEPER_PASSWORD: password } });
      assert.equal(again.code, 0, again.stderr);
      assert.equal(factus.stats().tokenRequests.password, 2);
      assert.equal(cli.transcript().includes(password), false, 'the password never appears');
    } finally {
      await factus.stop();
      await cli.cleanup();
    }
  });
});
