/**
 * The CLI as a new user meets it when something goes wrong: logins that never lose a
 * connection, hints that work as written, one message for every missing variable,
 * "did you mean", help per command, and the exit codes of the README.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type FactorialRunningEmulator,
  startFactorialEmulator,
} from '../../src/emulators/factorial/factorial-emulator.js';
import {
  type FactusRunningEmulator,
  startFactusEmulator,
} from '../../src/emulators/factus/factus-emulator.js';
import {
  AUTHORIZATION_URL_LINE,
  type CliSandbox,
  cliPath,
  createCliSandbox,
  factorialApiKeyLoginArgs,
  factorialBrowserLoginArgs,
  factusEnv,
  freePort,
} from '../helpers/cli.js';

/** Node's own argument-parser wording, which must never reach the user. */
const NODE_PARSER_TEXT = /ERR_PARSE_ARGS|To specify a positional argument|TypeError \[/;

describe('login never loses a connection, and logs in again with what it saved', () => {
  let factus: FactusRunningEmulator;
  let factorial: FactorialRunningEmulator;
  let cli: CliSandbox;

  before(async () => {
    factus = await startFactusEmulator();
    factorial = await startFactorialEmulator();
    cli = await createCliSandbox();
    const login = await cli.run(['login', 'acme', '--provider', 'factus', '--base-url', factus.url], {
      env: factusEnv(factus),
    });
    assert.equal(login.code, 0, login.stderr);
  });
  after(async () => {
    await factus.stop();
    await factorial.stop();
    await cli.cleanup();
    const transcript = cli.transcript();
    for (const secret of [
      factus.credentials.clientSecret,
      factus.credentials.password,
      factorial.credentials.apiKey,
    ]) {
      assert.equal(transcript.includes(secret), false, 'a secret appeared in CLI output');
    }
  });

  it('refuses to replace a connection of another provider without --force, and keeps it', async () => {
    const refused = await cli.run(factorialApiKeyLoginArgs('acme', factorial), {
      env: { FACTORIAL_API_KEY: factorial.credentials.apiKey },
    });
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /"acme" is already a Factus connection \(password\); it was kept/);
    assert.match(refused.stderr, /--force/);
    const token = await cli.run(['token', 'acme']);
    assert.equal(token.code, 0, token.stderr);
    const status = JSON.parse((await cli.run(['status', 'acme', '--json'])).stdout) as { provider: string };
    assert.equal(status.provider, 'factus');
  });

  it('with --force it replaces the connection', async () => {
    await cli.run(['login', 'spare', '--provider', 'factus', '--base-url', factus.url], {
      env: factusEnv(factus),
    });
    const forced = await cli.run(
      ['login', 'spare', '--provider', 'factorial', '--base-url', factorial.url, '--api-key', '--force'],
      { env: { FACTORIAL_API_KEY: factorial.credentials.apiKey } },
    );
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stderr, /Replaced "spare"/);
    const status = JSON.parse((await cli.run(['status', 'spare', '--json'])).stdout) as {
      provider: string;
      grant: string;
    };
    assert.equal(status.provider, 'factorial');
    assert.equal(status.grant, 'api_key');
  });

  it('`login NAME` alone logs in again with only the password set, reusing client and user', async () => {
    const before = factus.stats().tokenRequests.password ?? 0;
    const result = await cli.run(['login', 'acme'], {
      env: { FACTUS_PASSWORD: factus.credentials.password },
    });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /Logged in to factus/);
    assert.equal(factus.stats().tokenRequests.password, before + 1);
  });

  it('`login NAME` alone works in CI with no variable at all while the saved password is still good', async () => {
    const result = await cli.run(['login', 'acme']);
    assert.equal(result.code, 0, result.stderr);
  });

  it('after a password change, `login NAME` with only the new password fixes the connection', async () => {
    const port = Number(new URL(factus.url).port);
    await factus.stop();
    factus = await startFactusEmulator({ port, credentials: { password: 'a-new-password' } });
    const refresh = await cli.run(['refresh', 'acme']);
    assert.equal(refresh.code, 3, refresh.stderr);
    assert.match(refresh.stderr, /tokenkeeper login acme/);
    const listed = await cli.run(['status']);
    assert.equal(listed.code, 1, 'status exits 1 when a listed connection needs a login');
    const login = await cli.run(['login', 'acme'], { env: { FACTUS_PASSWORD: 'a-new-password' } });
    assert.equal(login.code, 0, login.stderr);
    assert.equal((await cli.run(['token', 'acme'])).code, 0);
  });

  it('a login that moves a connection elsewhere asks for its secrets again and sends no saved one there', async () => {
    const elsewhere = await startFactusEmulator();
    try {
      const first = await cli.run(['login', 'moving', '--provider', 'factus', '--base-url', factus.url], {
        env: factusEnv(factus),
      });
      assert.equal(first.code, 0, first.stderr);
      const moved = await cli.run(['login', 'moving', '--base-url', elsewhere.url]);
      assert.equal(moved.code, 2, moved.stderr);
      assert.match(moved.stderr, new RegExp(`given for ${factus.url} and are not sent elsewhere`));
      assert.match(moved.stderr, /\n {2}FACTUS_CLIENT_SECRET\b/);
      assert.match(moved.stderr, /\n {2}FACTUS_PASSWORD\b/);
      assert.doesNotMatch(
        moved.stderr,
        /FACTUS_CLIENT_ID|FACTUS_USERNAME/,
        'the client id and user are reused',
      );
      assert.equal(elsewhere.stats().tokenRequests.total, 0);
      const { clientSecret, password } = elsewhere.credentials;
      const given = await cli.run(['login', 'moving', '--base-url', elsewhere.url], {
        env: { FACTUS_CLIENT_SECRET: clientSecret, FACTUS_PASSWORD: password },
      });
      assert.equal(given.code, 0, given.stderr);
      assert.equal(elsewhere.stats().tokenRequests.password, 1);
      // The same place again needs nothing: what was saved goes where it was given.
      const again = await cli.run(['login', 'moving', '--base-url', `${elsewhere.url}/`]);
      assert.equal(again.code, 0, again.stderr);
    } finally {
      await elsewhere.stop();
    }
  });

  it('reports every missing credential in one message', async () => {
    const result = await cli.run(['login', 'fresh', '--provider', 'factus', '--base-url', factus.url]);
    assert.equal(result.code, 2);
    for (const variable of [
      'FACTUS_CLIENT_ID',
      'FACTUS_CLIENT_SECRET',
      'FACTUS_USERNAME',
      'FACTUS_PASSWORD',
    ]) {
      assert.match(result.stderr, new RegExp(`\\n  ${variable}\\b`));
    }
  });
});

describe('hints, "did you mean" and help', () => {
  let factus: FactusRunningEmulator;
  let cli: CliSandbox;

  before(async () => {
    factus = await startFactusEmulator();
    cli = await createCliSandbox(factusEnv(factus));
    assert.equal(
      (await cli.run(['login', 'acme', '--provider', 'factus', '--base-url', factus.url])).code,
      0,
    );
  });
  after(async () => {
    await factus.stop();
    await cli.cleanup();
  });

  it('a mistyped command, flag or connection name gets a "did you mean"', async () => {
    const command = await cli.run(['stauts']);
    assert.equal(command.code, 2);
    assert.match(command.stderr, /Did you mean `tokenkeeper status`\?/);
    const inherited = await cli.run(['constructor']);
    assert.equal(inherited.code, 2, inherited.stderr);
    assert.match(inherited.stderr, /^Unknown command "constructor"\./);

    const flag = await cli.run(['login', 'other', '--provder', 'factus']);
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /Unknown flag --provder\. Did you mean --provider\?/);

    const name = await cli.run(['token', 'acm']);
    assert.equal(name.code, 1);
    assert.match(name.stderr, /no connection named "acm"\. Did you mean "acme"\?/);
    assert.match(name.stderr, /\n {2}tokenkeeper login acm --provider factus\n/);
  });

  it('the login command an unknown name is given works as written', async () => {
    const hint = await cli.run(['token', 'made-up']);
    const [, suggested] = hint.stderr.match(/\n {2}tokenkeeper (login made-up --provider factus)\n/) ?? [];
    assert.ok(suggested, hint.stderr);
    const login = await cli.run([...suggested.split(' '), '--base-url', factus.url]);
    assert.equal(login.code, 0, login.stderr);
  });

  it('Node’s parser text never reaches the user', async () => {
    for (const args of [
      ['status', '--colour'],
      ['login', 'x', '--provider'],
      ['token', '--json=yes'],
      ['emulate', 'factus', '--bogus'],
    ]) {
      const result = await cli.run(args);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.doesNotMatch(result.stderr, NODE_PARSER_TEXT);
    }
    assert.match((await cli.run(['login', 'x', '--provider'])).stderr, /--provider needs a value/);
  });

  it('`help <command>` and `<command> --help` show that command’s help; version works', async () => {
    const help = await cli.run(['help', 'login']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: tokenkeeper login <name>/);
    assert.match(help.stdout, /--force/);
    assert.equal((await cli.run(['login', '--help'])).stdout, help.stdout);
    assert.match((await cli.run(['help', 'exec'])).stdout, /^Usage: tokenkeeper exec/);
    assert.match((await cli.run(['version'])).stdout, /^\d+\.\d+\.\d+\n$/);
  });

  it('`help version` and `version --help` show version’s help; an extra argument is refused', async () => {
    const help = await cli.run(['help', 'version']);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /^Usage: tokenkeeper version\n/);
    for (const args of [
      ['version', '--help'],
      ['version', '-h'],
      ['--version', '--help'],
    ]) {
      assert.equal((await cli.run(args)).stdout, help.stdout, args.join(' '));
    }
    for (const args of [
      ['version', 'extra'],
      ['-v', 'extra'],
    ]) {
      const extra = await cli.run(args);
      assert.equal(extra.code, 2, args.join(' '));
      assert.match(extra.stderr, /^Unexpected argument "extra"\.\nUsage: tokenkeeper version/);
      assert.equal(extra.stdout, '');
    }
    assert.match((await cli.run(['--version'])).stdout, /^\d+\.\d+\.\d+\n$/);
    assert.match((await cli.run(['help', '--help'])).stdout, /^tokenkeeper: keeps API credentials alive\./);
  });

  it('--store without a value says so, wherever it is', async () => {
    for (const args of [
      ['status', '--json', '--store'],
      ['--store', 'status'],
      ['--store', '--json', 'status'],
      ['--store=', 'status'],
      ['token', 'acme', '--store', ''],
    ]) {
      const result = await cli.run(args);
      assert.equal(result.code, 2, `${JSON.stringify(args)}: ${result.stderr}`);
      assert.equal(
        result.stderr,
        '--store needs a value.\nUsage: tokenkeeper [--store LOCATION] <command> [options]\n',
        JSON.stringify(args),
      );
      assert.equal(result.stdout, '');
    }
  });

  it('logout of an unknown name says only that it does not exist', async () => {
    const result = await cli.run(['logout', 'nosuch']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /no connection named "nosuch"/);
    assert.doesNotMatch(result.stderr, /was kept/);
  });
});

describe('exit codes as the README says', () => {
  let factus: FactusRunningEmulator;
  let cli: CliSandbox;

  before(async () => {
    factus = await startFactusEmulator();
    cli = await createCliSandbox(factusEnv(factus));
    assert.equal(
      (await cli.run(['login', 'acme', '--provider', 'factus', '--base-url', factus.url])).code,
      0,
    );
  });
  after(async () => {
    await factus.stop();
    await cli.cleanup();
  });

  it('2 for a body on GET or HEAD', async () => {
    for (const method of ['GET', 'HEAD']) {
      const result = await cli.run(['request', 'acme', method, '/v1/bills', '--data', '{}']);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, new RegExp(`A ${method} request has no body`));
      assert.doesNotMatch(result.stderr, /Unexpected error/);
    }
  });

  it('2 for a store that cannot be written, with or without TOKENKEEPER_KEY', async () => {
    const file = join(cli.home, 'a-file');
    await writeFile(file, 'not a directory');
    const store = join(file, 'sub', 'tokens.db');
    for (const env of [
      { TOKENKEEPER_STORE: store },
      { TOKENKEEPER_STORE: store, TOKENKEEPER_KEY: 'a'.repeat(64) },
    ]) {
      const result = await cli.run(['login', 'acme', '--provider', 'factus', '--base-url', factus.url], {
        env,
      });
      assert.equal(result.code, 2, result.stderr);
      assert.doesNotMatch(result.stderr, /Unexpected error/);
      assert.match(result.stderr, /TOKENKEEPER_KEY|--store/);
    }
  });

  it('4 for an issuer that cannot be reached, without library wording', async () => {
    const result = await cli.run(
      ['login', 'gen', '--provider', 'oauth2', '--issuer', `http://127.0.0.1:${await freePort()}`],
      { env: { TOKENKEEPER_CLIENT_ID: 'id', TOKENKEEPER_CLIENT_SECRET: 'secret' } },
    );
    assert.equal(result.code, 4, result.stderr);
    assert.match(result.stderr, /Could not reach the issuer/);
    assert.doesNotMatch(result.stderr, /fetch failed|conform/);
  });

  it('4 for an API that cannot be reached', async () => {
    const other = await startFactusEmulator();
    const login = await cli.run(['login', 'gone', '--provider', 'factus', '--base-url', other.url], {
      env: factusEnv(other),
    });
    assert.equal(login.code, 0, login.stderr);
    await other.stop();
    const result = await cli.run(['request', 'gone', 'GET', '/v1/bills']);
    assert.equal(result.code, 4, result.stderr);
    assert.doesNotMatch(result.stderr, /fetch failed|Unexpected error/);
  });

  it('130 for Ctrl-C while a login waits for the browser', async () => {
    const redirectUri = `http://127.0.0.1:${await freePort()}/callback`;
    const factorial = await startFactorialEmulator({ redirectUris: [redirectUri] });
    try {
      const { clientId, clientSecret } = factorial.credentials;
      const child = spawn(
        process.execPath,
        [cliPath, ...factorialBrowserLoginArgs('hr', factorial, redirectUri)],
        {
          env: { ...cli.env, FACTORIAL_CLIENT_ID: clientId, FACTORIAL_CLIENT_SECRET: clientSecret },
          stdio: 'pipe',
        },
      );
      let stderr = '';
      const waiting = new Promise<void>((resolve) => {
        child.stderr.on('data', (chunk) => {
          stderr += chunk;
          if (AUTHORIZATION_URL_LINE.test(stderr) && /Waiting for the browser/.test(stderr)) resolve();
        });
      });
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
      await waiting;
      child.kill('SIGINT');
      assert.equal(await exited, 130);
      assert.match(stderr, /Cancelled\./);
    } finally {
      await factorial.stop();
    }
  });
});
