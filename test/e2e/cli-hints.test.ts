/**
 * Every login command a message names succeeds as written, run by a shell as a person would
 * paste it: after a failed first login (the whole `login NAME --provider …` it was given), after
 * a failed re-login, and for a connection whose secrets cannot be opened (the login that
 * replaces it). A failed revocation names the revocation endpoint.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  type FactorialRunningEmulator,
  startFactorialEmulator,
} from '../../src/emulators/factorial/factorial-emulator.js';
import {
  type FactusRunningEmulator,
  startFactusEmulator,
} from '../../src/emulators/factus/factus-emulator.js';
import { SqliteTokenStore } from '../../src/store/sqlite-store.js';
import {
  type CliSandbox,
  createCliSandbox,
  factorialApiKeyLoginArgs,
  factorialBrowserLoginArgs,
  factusEnv,
  freePort,
  startBrowserLogin,
} from '../helpers/cli.js';
import { startOidcServer } from '../helpers/oidc-server.js';

/** The command a refusal says to run again. */
function rerunHint(stderr: string): string {
  const [, command] = stderr.match(/run `(tokenkeeper login [^`]+)` again/) ?? [];
  assert.ok(command, `no login command named in:\n${stderr}`);
  return command;
}

/** The command a message about an unopenable connection names to replace it. */
function replacingHint(stderr: string): string {
  const [, command] = stderr.match(/`(tokenkeeper login [^`]+ --force)`/) ?? [];
  assert.ok(command, `no login command named in:\n${stderr}`);
  return command;
}

describe('after a failed login, the login command named works as written', () => {
  let factus: FactusRunningEmulator;
  let factorial: FactorialRunningEmulator;
  let cli: CliSandbox;
  let redirectUri: string;

  before(async () => {
    factus = await startFactusEmulator();
    redirectUri = `http://127.0.0.1:${await freePort()}/callback`;
    factorial = await startFactorialEmulator({ redirectUris: [redirectUri] });
    cli = await createCliSandbox();
  });
  after(async () => {
    await factus.stop();
    await factorial.stop();
    const transcript = cli.transcript();
    await cli.cleanup();
    for (const secret of [
      factus.credentials.clientSecret,
      factus.credentials.password,
      factorial.credentials.clientSecret,
      factorial.credentials.apiKey,
    ]) {
      assert.equal(transcript.includes(secret), false, 'a secret appeared in CLI output');
    }
  });

  it('a first login with a wrong password names the whole login, not `login NAME`', async () => {
    const failed = await cli.run(['login', 'newx', '--provider', 'factus', '--base-url', factus.url], {
      env: { ...factusEnv(factus), FACTUS_PASSWORD: 'wrong' },
    });
    assert.equal(failed.code, 1, failed.stderr);
    assert.doesNotMatch(failed.stderr, /no longer accepted/, 'nothing was accepted before');
    const hint = rerunHint(failed.stderr);
    assert.equal(hint, `tokenkeeper login newx --provider factus --base-url ${factus.url}`);
    const again = await cli.shell(hint, { env: factusEnv(factus) });
    assert.equal(again.code, 0, again.stderr);
  });

  it('a first login with a wrong client secret names the whole login, quoted for the shell', async () => {
    const failed = await cli.run(
      ['login', 'newy', '--provider', 'factus', '--base-url', factus.url, '--scope', 'read write'],
      { env: { ...factusEnv(factus), FACTUS_CLIENT_SECRET: 'wrong' } },
    );
    assert.equal(failed.code, 1, failed.stderr);
    assert.match(failed.stderr, /Check the client id and client secret/);
    const hint = rerunHint(failed.stderr);
    assert.match(hint, / --scope 'read write'$/);
    const again = await cli.shell(hint, { env: factusEnv(factus) });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /as connection "newy"/);
  });

  it('a Factorial authorization code login with a wrong secret names the whole login', async () => {
    const browser = async (login: Awaited<ReturnType<typeof startBrowserLogin>>) => {
      await (await fetch(login.url)).text(); // the emulator approves and redirects to the loopback
      return login.login.done;
    };
    const { clientId, clientSecret } = factorial.credentials;
    const failed = await browser(
      await startBrowserLogin(factorialBrowserLoginArgs('newz', factorial, redirectUri), {
        ...cli.env,
        FACTORIAL_CLIENT_ID: clientId,
        FACTORIAL_CLIENT_SECRET: 'wrong',
      }),
    );
    assert.equal(failed.code, 1, failed.stderr);
    const hint = rerunHint(failed.stderr);
    assert.match(
      hint,
      /^tokenkeeper login newz --provider factorial --base-url \S+ --redirect-uri \S+ --no-browser$/,
    );
    const again = await browser(
      await startBrowserLogin(
        { shell: hint },
        { ...(await cli.pathEnv()), FACTORIAL_CLIENT_ID: clientId, FACTORIAL_CLIENT_SECRET: clientSecret },
      ),
    );
    assert.equal(again.code, 0, again.stderr);
  });

  it('a forced replacement that fails names the whole login: the old connection is gone', async () => {
    const apiKey = await cli.run(factorialApiKeyLoginArgs('spare', factorial), {
      env: { FACTORIAL_API_KEY: factorial.credentials.apiKey },
    });
    assert.equal(apiKey.code, 0, apiKey.stderr);
    const failed = await cli.run(
      ['login', 'spare', '--provider', 'factus', '--base-url', factus.url, '--force'],
      { env: { ...factusEnv(factus), FACTUS_PASSWORD: 'wrong' } },
    );
    assert.equal(failed.code, 1, failed.stderr);
    const again = await cli.shell(rerunHint(failed.stderr), { env: factusEnv(factus) });
    assert.equal(again.code, 0, again.stderr);
  });

  it('a login refused over a connection of another provider names `login NAME`, which logs in to the kept one', async () => {
    const refused = await cli.run(factorialApiKeyLoginArgs('newx', factorial), {
      env: { FACTORIAL_API_KEY: factorial.credentials.apiKey },
    });
    assert.equal(refused.code, 2, refused.stderr);
    const [, hint] = refused.stderr.match(/To log in to it again: (tokenkeeper login \S+)\n/) ?? [];
    assert.equal(hint, 'tokenkeeper login newx');
    const again = await cli.shell(hint!, { env: { FACTUS_PASSWORD: factus.credentials.password } });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /Logged in to factus/);
  });

  it('a failed login again to a saved connection names `login NAME`, which reuses what is saved', async () => {
    const failed = await cli.run(['login', 'newx'], { env: { FACTUS_PASSWORD: 'wrong' } });
    assert.equal(failed.code, 1, failed.stderr);
    const hint = rerunHint(failed.stderr);
    assert.equal(hint, 'tokenkeeper login newx');
    const again = await cli.shell(hint, { env: { FACTUS_PASSWORD: factus.credentials.password } });
    assert.equal(again.code, 0, again.stderr);
  });
});

describe('a connection whose secrets cannot be opened: messages name the login that replaces it', () => {
  let factus: FactusRunningEmulator;
  let cli: CliSandbox;
  const firstKey = randomBytes(32).toString('base64');
  const otherKey = randomBytes(32).toString('base64');

  before(async () => {
    factus = await startFactusEmulator();
    cli = await createCliSandbox(factusEnv(factus));
  });
  after(async () => {
    await factus.stop();
    const transcript = cli.transcript();
    await cli.cleanup();
    for (const secret of [factus.credentials.clientSecret, factus.credentials.password, firstKey, otherKey]) {
      assert.equal(transcript.includes(secret), false, 'no secret or key in any output');
    }
  });

  it('under another key: token, login and rekey name `login NAME --base-url … --force`, which works', async () => {
    const login = await cli.run(['login', 'k', '--provider', 'factus', '--base-url', factus.url], {
      env: { TOKENKEEPER_KEY: firstKey },
    });
    assert.equal(login.code, 0, login.stderr);
    const withOtherKey = { env: { TOKENKEEPER_KEY: otherKey } };
    const expected = 'tokenkeeper login k --base-url https://… --force';

    const token = await cli.run(['token', 'k'], withOtherKey);
    assert.equal(token.code, 2, token.stderr);
    assert.equal(replacingHint(token.stderr), expected);
    const refused = await cli.run(['login', 'k', '--base-url', factus.url], withOtherKey);
    assert.equal(refused.code, 2, refused.stderr);
    assert.equal(replacingHint(refused.stderr), expected);
    assert.doesNotMatch(refused.stderr, /`tokenkeeper login k`/);
    const rekey = await cli.run(['rekey'], withOtherKey);
    assert.equal(rekey.code, 1, rekey.stderr);
    assert.equal(replacingHint(rekey.stderr), expected);

    // A person puts their URL where the command shows one.
    const replaced = await cli.shell(expected.replace('https://…', factus.url), withOtherKey);
    assert.equal(replaced.code, 0, replaced.stderr);
    assert.equal((await cli.run(['token', 'k'], withOtherKey)).code, 0);
  });

  it('changed outside tokenkeeper: the message names the same login, which works', async () => {
    const login = await cli.run(['login', 't', '--provider', 'factus', '--base-url', factus.url], {
      env: { TOKENKEEPER_KEY: otherKey },
    });
    assert.equal(login.code, 0, login.stderr);
    const store = await SqliteTokenStore.open(cli.storePath);
    try {
      const row = (await store.get('t'))!;
      const meta = { ...row.meta, clientId: 'someone-else' };
      assert.ok(await store.put('t', meta, row.sealed, row.version));
    } finally {
      await store.close();
    }
    const withKey = { env: { TOKENKEEPER_KEY: otherKey } };
    const token = await cli.run(['token', 't'], withKey);
    assert.equal(token.code, 2, token.stderr);
    assert.match(token.stderr, /changed outside tokenkeeper/);
    const hint = replacingHint(token.stderr);
    assert.equal(hint, 'tokenkeeper login t --base-url https://… --force');
    const replaced = await cli.shell(hint.replace('https://…', factus.url), withKey);
    assert.equal(replaced.code, 0, replaced.stderr);
    assert.equal((await cli.run(['token', 't'], withKey)).code, 0);
  });
  it('on one of the provider’s own environments: `login NAME --force`, with no place to give', async () => {
    const withKey = { env: { TOKENKEEPER_KEY: otherKey } };
    const login = await cli.run(['login', 'e', '--provider', 'factus', '--base-url', factus.url], withKey);
    assert.equal(login.code, 0, login.stderr);
    const store = await SqliteTokenStore.open(cli.storePath);
    try {
      const row = (await store.get('e'))!;
      assert.ok(await store.put('e', { ...row.meta, environment: 'sandbox' }, row.sealed, row.version));
    } finally {
      await store.close();
    }
    const token = await cli.run(['token', 'e'], withKey);
    assert.equal(token.code, 2, token.stderr);
    // Not run here: the sandbox is on the internet, which the tests do not reach.
    assert.equal(replacingHint(token.stderr), 'tokenkeeper login e --force');
  });
});

describe('an unopenable generic OAuth 2.0 connection: the login that replaces it says where to log in', () => {
  const firstKey = randomBytes(32).toString('base64');
  const otherKey = randomBytes(32).toString('base64');

  /**
   * Logs in as `name` under one key, asks for its token under another, checks that the refusal
   * names `hint`, and runs that login with `place` where it shows `https://…`. Stops `server` and
   * removes the sandbox at the end: each way of setting up a generic connection is tested so.
   */
  async function assertReplacingLoginWorks(
    server: { stop(): Promise<void> },
    credentials: NodeJS.ProcessEnv,
    { name, setup, hint, place }: { name: string; setup: string[]; hint: string; place: string },
  ): Promise<void> {
    const cli = await createCliSandbox(credentials);
    try {
      const login = await cli.run(['login', name, '--provider', 'oauth2', ...setup], {
        env: { TOKENKEEPER_KEY: firstKey },
      });
      assert.equal(login.code, 0, login.stderr);
      const withOtherKey = { env: { TOKENKEEPER_KEY: otherKey } };
      const token = await cli.run(['token', name], withOtherKey);
      assert.equal(token.code, 2, token.stderr);
      const named = replacingHint(token.stderr);
      assert.equal(named, hint);
      const replaced = await cli.shell(named.replace('https://…', place), withOtherKey);
      assert.equal(replaced.code, 0, replaced.stderr);
    } finally {
      await server.stop();
      await cli.cleanup();
    }
  }

  it('set up by its token URL: `--token-url … --force`', async () => {
    // Any token endpoint with the password grant: the Factus emulator's.
    const factus = await startFactusEmulator();
    const { clientId, clientSecret, username, password } = factus.credentials;
    await assertReplacingLoginWorks(
      factus,
      {
        TOKENKEEPER_CLIENT_ID: clientId,
        TOKENKEEPER_CLIENT_SECRET: clientSecret,
        TOKENKEEPER_USERNAME: username,
        TOKENKEEPER_PASSWORD: password,
      },
      {
        name: 'g',
        setup: ['--token-url', factus.tokenUrl, '--grant', 'password'],
        hint: 'tokenkeeper login g --token-url https://… --force',
        place: factus.tokenUrl,
      },
    );
  });

  it('found by discovery: `--issuer … --force`', async () => {
    const server = await startOidcServer();
    const { clientId, clientSecret } = server.clients.machine;
    await assertReplacingLoginWorks(
      server,
      { TOKENKEEPER_CLIENT_ID: clientId, TOKENKEEPER_CLIENT_SECRET: clientSecret },
      {
        name: 'm',
        setup: ['--issuer', server.issuer, '--grant', 'client_credentials'],
        hint: 'tokenkeeper login m --issuer https://… --force',
        place: server.issuer,
      },
    );
  });
});

describe('a failed revocation at logout', () => {
  it('names the revocation endpoint, keeps the connection and names no login', async () => {
    const redirectUri = `http://127.0.0.1:${await freePort()}/callback`;
    let factorial = await startFactorialEmulator({ redirectUris: [redirectUri] });
    const { clientId, clientSecret } = factorial.credentials;
    const cli = await createCliSandbox({
      FACTORIAL_CLIENT_ID: clientId,
      FACTORIAL_CLIENT_SECRET: clientSecret,
    });
    try {
      for (const name of ['rv', 'rv2']) {
        const { login, url } = await startBrowserLogin(
          factorialBrowserLoginArgs(name, factorial, redirectUri),
          cli.env,
        );
        await (await fetch(url)).text();
        assert.equal((await login.done).code, 0);
      }
      factorial.faults.add({ point: 'revoke', status: 503 });
      const unavailable = await cli.run(['logout', 'rv']);
      assert.equal(unavailable.code, 4, unavailable.stderr);
      assert.match(
        unavailable.stderr,
        /The revocation endpoint at http:\/\/127\.0\.0\.1:\d+ answered HTTP 503/,
      );
      assert.doesNotMatch(unavailable.stderr, /token endpoint|tokenkeeper login/);
      assert.match(unavailable.stderr, /was kept/);

      // The provider no longer knows the saved client secret: a refusal of the client, which
      // logging in again would not get past the logout.
      const port = Number(new URL(factorial.url).port);
      await factorial.stop();
      factorial = await startFactorialEmulator({
        port,
        redirectUris: [redirectUri],
        credentials: { clientSecret: 'a-new-client-secret' },
      });
      const refused = await cli.run(['logout', 'rv2']);
      assert.equal(refused.code, 1, refused.stderr);
      assert.match(
        refused.stderr,
        /The revocation endpoint at \S+ refused the request \(HTTP 401, invalid_client.*\)\. Check the client id and client secret\.\n/,
      );
      assert.doesNotMatch(refused.stderr, /token endpoint|tokenkeeper login/);
      assert.match(refused.stderr, /was kept/);
    } finally {
      await factorial.stop();
      await cli.cleanup();
    }
  });
});
