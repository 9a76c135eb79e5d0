/**
 * The CLI from scripts: a default connection, --store, token --json, exec, env, shell
 * completion, a truthful status, and request's --include, --paginate and --form.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
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
import { type CliSandbox, createCliSandbox, factorialApiKeyLoginArgs } from '../helpers/cli.js';

const EMPLOYEES = '/api/2026-07-01/resources/employees/employees';

/** The `skip` of a test that runs a shell: false, or why. In CI the shell must be there. */
function skipWithout(shell: string): false | string {
  const found = spawnSync('sh', ['-c', `command -v ${shell}`]).status === 0;
  if (found || process.env.CI) return false;
  const reason = `${shell} is not installed (apt-get install ${shell})`;
  console.log(`# skipping the ${shell} completion test: ${reason}`);
  return reason;
}
const print = (expression: string) => ['node', '-e', `process.stdout.write(String(${expression}))`];

describe('the CLI from scripts', () => {
  let factus: FactusRunningEmulator;
  let factorial: FactorialRunningEmulator;
  let cli: CliSandbox;

  before(async () => {
    factus = await startFactusEmulator();
    factorial = await startFactorialEmulator();
    const { clientId, clientSecret, username, password } = factus.credentials;
    cli = await createCliSandbox({
      FACTUS_CLIENT_ID: clientId,
      FACTUS_CLIENT_SECRET: clientSecret,
      FACTUS_USERNAME: username,
      FACTUS_PASSWORD: password,
      FACTORIAL_API_KEY: factorial.credentials.apiKey,
    });
    const login = await cli.run(['login', 'acme', '--provider', 'factus', '--base-url', factus.url]);
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

  it('the only connection is the default one', async () => {
    const token = await cli.run(['token']);
    assert.equal(token.code, 0, token.stderr);
    assert.equal(token.stdout, (await cli.run(['token', 'acme'])).stdout);
    const request = await cli.run(['request', 'GET', '/v1/numbering-ranges']);
    assert.equal(request.code, 0, request.stderr);
  });

  it('token --json prints the token, its type, ISO expiry and the header to send', async () => {
    const result = await cli.run(['token', 'acme', '--json']);
    assert.equal(result.code, 0, result.stderr);
    const json = JSON.parse(result.stdout) as {
      accessToken: string;
      tokenType: string;
      expiresAt: string;
      header: { name: string; value: string };
    };
    assert.deepEqual(Object.keys(json), ['accessToken', 'tokenType', 'expiresAt', 'header']);
    assert.equal(json.tokenType, 'Bearer');
    assert.equal(new Date(json.expiresAt).toISOString(), json.expiresAt);
    assert.deepEqual(json.header, { name: 'Authorization', value: `Bearer ${json.accessToken}` });
    const api = await fetch(`${factus.url}/v1/numbering-ranges`, {
      headers: { [json.header.name]: json.header.value },
    });
    assert.equal(api.status, 200);
    await api.arrayBuffer();
  });

  it('exec runs the command with the token and the whole header line, and passes on its exit code', async () => {
    const token = (await cli.run(['token', 'acme'])).stdout.trim();
    const header = await cli.run(['exec', 'acme', '--', ...print('process.env.TOKENKEEPER_AUTH_HEADER')]);
    assert.equal(header.code, 0, header.stderr);
    assert.equal(header.stdout, `Authorization: Bearer ${token}`);
    const access = await cli.run(['exec', 'acme', '--', ...print('process.env.TOKENKEEPER_ACCESS_TOKEN')]);
    assert.equal(access.stdout, token);
    const failing = await cli.run(['exec', 'acme', '--', 'node', '-e', 'process.exit(7)']);
    assert.equal(failing.code, 7);
    const notFound = await cli.run(['exec', 'acme', '--', 'no-such-command-for-tokenkeeper']);
    assert.equal(notFound.code, 127);
    assert.match(notFound.stderr, /command not found/);
    const missing = await cli.run(['exec', 'acme']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /after --/);
  });

  it('exec refreshes an expired token before running the command', async () => {
    // The token endpoint hands out a token that is already expired.
    factus.faults.add({ point: 'token', expiresIn: 0, count: 1 });
    assert.equal(
      (await cli.run(['login', 'stale', '--provider', 'factus', '--base-url', factus.url])).code,
      0,
    );
    const status = await cli.run(['status', 'stale']);
    assert.match(status.stdout, /expiry: +expired .* ago; refreshes on next use/);
    const before = factus.stats().tokenRequests.refresh_token ?? 0;
    const result = await cli.run(['exec', 'stale', '--', ...print('process.env.TOKENKEEPER_ACCESS_TOKEN')]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(factus.stats().tokenRequests.refresh_token, before + 1);
    const api = await fetch(`${factus.url}/v1/numbering-ranges`, {
      headers: { authorization: `Bearer ${result.stdout}` },
    });
    assert.equal(api.status, 200);
    await api.arrayBuffer();
  });

  it('env prints export lines that a shell can eval', async () => {
    const result = await cli.run(['env', 'acme']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      /^export TOKENKEEPER_ACCESS_TOKEN='[^']+'\nexport TOKENKEEPER_AUTH_HEADER='Authorization: Bearer [^']+'\n$/,
    );
    const shell = spawnSync('sh', ['-c', `${result.stdout}\nprintf %s "$TOKENKEEPER_AUTH_HEADER"`], {
      encoding: 'utf8',
    });
    assert.equal(shell.stdout, `Authorization: Bearer ${(await cli.run(['token', 'acme'])).stdout.trim()}`);
  });

  it('an API key is handed over in its own header', async () => {
    const login = await cli.run(factorialApiKeyLoginArgs('hr-key', factorial));
    assert.equal(login.code, 0, login.stderr);
    const result = await cli.run(['exec', 'hr-key', '--', ...print('process.env.TOKENKEEPER_AUTH_HEADER')]);
    assert.equal(result.stdout, `x-api-key: ${factorial.credentials.apiKey}`);
  });

  it('with several connections a name is needed, or TOKENKEEPER_CONNECTION', async () => {
    const ambiguous = await cli.run(['token']);
    assert.equal(ambiguous.code, 2);
    assert.match(ambiguous.stderr, /Say which connection: acme, hr-key, stale/);
    const chosen = await cli.run(['token'], { env: { TOKENKEEPER_CONNECTION: 'hr-key' } });
    assert.equal(chosen.code, 0, chosen.stderr);
    assert.equal(chosen.stdout.trim(), factorial.credentials.apiKey);
  });

  it('status shows the store and its key, the account, scopes, 4 characters of the credential and honest expiry', async () => {
    const token = (await cli.run(['token', 'acme'])).stdout.trim();
    const result = await cli.run(['status']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      new RegExp(
        `^Store: ${cli.storePath} \\(SQLite\\)\\nKey: +key file .*tokens\\.key, key id [\\w-]{8}\\n`,
      ),
    );
    const [acme, hrKey] = ['acme', 'hr-key'].map(
      (name) => result.stdout.split('\n\n').find((block) => block.startsWith(`${name}\n`))!,
    );
    assert.match(acme!, new RegExp(`account: +${factus.credentials.username}`));
    assert.match(acme!, /scopes: +none/);
    assert.match(acme!, new RegExp(`credential: +${token.slice(0, 4)}\\*+\\n`));
    assert.equal(result.stdout.includes(token.slice(4, 24)), false, 'only 4 characters of the token');
    assert.match(acme!, /expiry: +valid until .*; refreshes on next use/);
    assert.match(hrKey!, /expiry: +API key, does not expire/);
    assert.doesNotMatch(hrKey!, /scope/);
    const { apiKey } = factorial.credentials;
    assert.match(hrKey!, new RegExp(`credential: +${apiKey.slice(0, 4)}\\*+\\n`));
    assert.equal(result.stdout.includes(apiKey.slice(4)), false, 'only 4 characters of the API key');

    const one = JSON.parse((await cli.run(['status', 'acme', '--json'])).stdout) as Record<string, unknown>;
    assert.equal(Array.isArray(one), false);
    assert.equal(one.name, 'acme');
    assert.equal(one.account, factus.credentials.username);
    const all = JSON.parse((await cli.run(['status', '--json'])).stdout) as Array<{ name: string }>;
    assert.deepEqual(
      all.map((c) => c.name),
      ['acme', 'hr-key', 'stale'],
    );
  });

  /** Logs in `name` to the Factus emulator in the store at `path`, not in the sandbox's own. */
  async function loginInStore(path: string, name: string): Promise<void> {
    const login = await cli.run([
      '--store',
      path,
      'login',
      name,
      '--provider',
      'factus',
      '--base-url',
      factus.url,
    ]);
    assert.equal(login.code, 0, login.stderr);
  }

  it('--store chooses another store for any command', async () => {
    const other = join(cli.home, 'other', 'elsewhere.db');
    await loginInStore(other, 'side');
    assert.equal((await cli.run(['token', 'side', `--store=${other}`])).code, 0);
    const here = await cli.run(['status', '--json']);
    assert.equal(
      (JSON.parse(here.stdout) as Array<{ name: string }>).some((c) => c.name === 'side'),
      false,
    );
    const there = await cli.run(['status', '--store', other]);
    assert.match(there.stdout, new RegExp(`Store: ${other}`));
  });

  it('request --include prints the status line and headers before the body', async () => {
    const result = await cli.run(['request', 'acme', 'GET', '/v1/numbering-ranges', '--include']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      /^HTTP\/1\.1 200 OK\n(.+: .+\n)*content-type: application\/json.*\n(.+: .+\n)*\n\{/,
    );
  });

  it('request --paginate follows Factus page numbers into one JSON array', async () => {
    const first = JSON.parse((await cli.run(['request', 'acme', 'GET', '/v1/bills?page=1'])).stdout) as {
      data: { data: unknown[]; pagination: { total: number; per_page: number } };
    };
    // More bills than fit on a page, so that there are pages to follow.
    const file = join(cli.home, 'bill.json');
    for (let i = first.data.pagination.total; i <= first.data.pagination.per_page; i++) {
      await writeFile(
        file,
        JSON.stringify({
          numbering_range_id: 8,
          reference_code: `page-${i}`,
          customer: { identification: '123456789', names: 'Cliente', email: 'c@example.com' },
          items: [{ code_reference: 'A1', name: 'Item', quantity: 1, price: 1000, tax_rate: '19.00' }],
        }),
      );
      assert.equal(
        (await cli.run(['request', 'acme', 'POST', '/v1/bills/validate', '--data', `@${file}`])).code,
        0,
      );
    }
    const total = (
      JSON.parse((await cli.run(['request', 'acme', 'GET', '/v1/bills'])).stdout) as {
        data: { pagination: { total: number; last_page: number } };
      }
    ).data.pagination;
    assert.ok(total.last_page > 1);
    const all = await cli.run(['request', 'acme', 'GET', '/v1/bills', '--paginate']);
    assert.equal(all.code, 0, all.stderr);
    const items = JSON.parse(all.stdout) as Array<{ reference_code: string }>;
    assert.equal(items.length, total.total);
  });

  it('request --paginate follows Factorial cursors into one JSON array', async () => {
    const result = await cli.run(['request', 'hr-key', 'GET', `${EMPLOYEES}?limit=100`, '--paginate']);
    assert.equal(result.code, 0, result.stderr);
    const items = JSON.parse(result.stdout) as Array<{ id: number }>;
    const first = JSON.parse(
      (await cli.run(['request', 'hr-key', 'GET', `${EMPLOYEES}?limit=1`])).stdout,
    ) as {
      meta: { total: number };
    };
    assert.ok(first.meta.total > 100);
    assert.equal(items.length, first.meta.total);
    assert.equal(new Set(items.map((employee) => employee.id)).size, items.length);
  });

  it('request --form sends application/x-www-form-urlencoded', async () => {
    const result = await cli.run([
      'request',
      'hr-key',
      'POST',
      '/api/v1/employees',
      '--form',
      'first_name=Ana',
      '--form',
      'last_name=Díaz & Co',
      '--form',
      'email=ana.form@example.com',
    ]);
    assert.equal(result.code, 0, result.stderr);
    const created = JSON.parse(result.stdout) as { first_name: string; last_name: string };
    assert.equal(created.first_name, 'Ana');
    assert.equal(created.last_name, 'Díaz & Co');
  });

  /** A store of its own holding one connection, `only-there`, for completion to find by --store. */
  async function otherStore(): Promise<string> {
    const path = join(cli.home, 'completion', 'other.db');
    await loginInStore(path, 'only-there');
    return path;
  }

  /** Writes the CLI's completion script for `shell` into the sandbox; returns its path. */
  async function writeCompletionScript(shell: 'zsh' | 'fish'): Promise<string> {
    const file = join(cli.home, `completion.${shell}`);
    await writeFile(file, (await cli.run(['completion', shell])).stdout);
    return file;
  }

  /**
   * Checks that `complete` finds the connection of the other store wherever --store stands on the
   * line, and the sandbox's own without it; returns the other store's path. zsh and fish take the
   * same lines (bash splits them at = and : too, so it is given more).
   */
  async function assertCompletesFromStoreOnLine(
    complete: (line: string) => Array<string | undefined>,
  ): Promise<string> {
    const other = await otherStore();
    for (const line of [
      `tokenkeeper --store ${other} token `,
      `tokenkeeper token --store ${other} `,
      `tokenkeeper --store=${other} request `,
      `tokenkeeper --store '${other}' whoami `,
      'tokenkeeper --store ~/completion/other.db refresh ',
    ]) {
      assert.deepEqual(complete(line), ['only-there'], line);
    }
    assert.deepEqual(complete('tokenkeeper token '), ['acme', 'hr-key', 'stale']);
    return other;
  }

  it('completion for bash completes commands, flags and connection names, from the --store on the line', async () => {
    const script = await cli.run(['completion', 'bash']);
    assert.equal(script.code, 0, script.stderr);
    const env = await cli.pathEnv(); // the script calls `tokenkeeper` for names
    /** What bash gives a completion function for `line`, the cursor at its end. */
    const complete = (line: string) => {
      // COMP_WORDS as bash splits the line: at blanks, and around = and : (COMP_WORDBREAKS).
      const words = line
        .split(/\s+/)
        .filter(Boolean)
        .flatMap((word) => word.split(/([=:])/).filter(Boolean));
      if (/\s$/.test(line)) words.push('');
      const quoted = words.map((word) => `'${word.replace(/'/g, `'\\''`)}'`).join(' ');
      const program = [
        script.stdout,
        `COMP_LINE="$1"; COMP_POINT=\${#COMP_LINE}; COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}`,
        // biome-ignore lint/suspicious/noTemplateCurlyInString: bash's array expansion, not a template.
        '_tokenkeeper; printf "%s\\n" "${COMPREPLY[@]}"',
      ].join('\n');
      const result = spawnSync('bash', ['-c', program, 'bash', line], { encoding: 'utf8', env });
      return result.stdout.trim().split('\n').filter(Boolean);
    };
    assert.deepEqual(complete('tokenkeeper lo'), ['login', 'logout']);
    assert.ok(complete('tokenkeeper login x --pro').includes('--provider'));
    assert.deepEqual(complete('tokenkeeper token hr'), ['hr-key']);
    assert.deepEqual(complete('tokenkeeper completion z'), ['zsh']);

    // --store on the line, before or after the command, is the store names come from.
    const other = await otherStore();
    for (const line of [
      `tokenkeeper --store ${other} token `,
      `tokenkeeper token --store ${other} `,
      `tokenkeeper --store=${other} request `,
      `tokenkeeper --store sqlite:${other} exec `,
      `tokenkeeper --store '${other}' whoami `,
      'tokenkeeper --store ~/completion/other.db refresh ',
      `tokenkeeper --store ${other} token o`,
    ]) {
      assert.deepEqual(complete(line), ['only-there'], line);
    }
    assert.deepEqual(complete('tokenkeeper token h'), ['hr-key'], 'without --store: TOKENKEEPER_STORE');
    // The command is the first word past --store and its value, and the value is a file name.
    assert.deepEqual(complete(`tokenkeeper --store ${other} lo`), ['login', 'logout']);
    assert.ok(complete(`tokenkeeper --store ${other} login x --pro`).includes('--provider'));
    assert.ok(complete(`tokenkeeper --store ${other.slice(0, -3)}`).includes(other));
  });

  it('completion for zsh and fish names the same commands, flags and the connection lookup', async () => {
    const zsh = await cli.run(['completion', 'zsh']);
    assert.equal(zsh.code, 0);
    assert.match(zsh.stdout, /compdef _tokenkeeper tokenkeeper/);
    assert.match(zsh.stdout, /login\) flags=\(.*--provider.*--force/);
    assert.match(zsh.stdout, /tokenkeeper \$storeArgs completion --connections/);
    const fish = await cli.run(['completion', 'fish']);
    assert.match(fish.stdout, /-n '__tokenkeeper_command_is login' -l provider/);
    assert.match(fish.stdout, /-a '\(__tokenkeeper_connections\)'/);
    const unknown = await cli.run(['completion', 'tcsh']);
    assert.equal(unknown.code, 2);
  });

  it('completion for zsh finds the command past --store, and passes --store on', {
    skip: skipWithout('zsh'),
  }, async () => {
    const file = await writeCompletionScript('zsh');
    const env = await cli.pathEnv();
    // Outside a completion widget: compadd and its helpers print what they were given.
    const stubs = [
      'compdef() { :; }',
      'compset() { :; }',
      "_files() { print -r -- '<files>'; }",
      'compadd() { local word; for word in "$@"; do [[ $word == -- ]] || print -r -- $word; done; }',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: zsh's parameter expansion, not a template.
      '_describe() { local -a items; items=(${(P)2}); print -rl -- ${items%%:*}; }',
    ].join('\n');
    const complete = (line: string) => {
      // $words as zsh hands them to a completion function: split as the shell would, quotes kept.
      const program = `${stubs}\nsource ${file}\nwords=(\${(z)1}); [[ $1 == *' ' ]] && words+=('')\nCURRENT=\${#words}; PREFIX=$words[CURRENT]\n_tokenkeeper`;
      const result = spawnSync('zsh', ['-f', '-c', program, 'zsh', line], { encoding: 'utf8', env });
      assert.equal(result.stderr, '', line);
      return result.stdout.trim().split('\n').filter(Boolean);
    };
    const other = await assertCompletesFromStoreOnLine(complete);
    assert.ok(complete(`tokenkeeper --store ${other} lo`).includes('login'));
    assert.ok(complete(`tokenkeeper --store ${other} login x --pro`).includes('--provider'));
    assert.deepEqual(complete('tokenkeeper --store '), ['<files>']);
  });

  it('completion for fish finds the command past --store, and passes --store on', {
    skip: skipWithout('fish'),
  }, async () => {
    const file = await writeCompletionScript('fish');
    const env = await cli.pathEnv();
    const complete = (line: string) => {
      const result = spawnSync('fish', ['--no-config', '-c', `source ${file}; complete -C $argv[1]`, line], {
        encoding: 'utf8',
        env,
      });
      assert.equal(result.stderr, '', line);
      return result.stdout
        .split('\n')
        .filter(Boolean)
        .map((candidate) => candidate.split('\t')[0]);
    };
    const other = await assertCompletesFromStoreOnLine(complete);
    assert.deepEqual(complete(`tokenkeeper --store ${other} lo`), ['login', 'logout']);
    assert.deepEqual(complete(`tokenkeeper --store ${other} login x --pro`), ['--provider']);
    assert.ok(complete(`tokenkeeper --store ${other.slice(0, -3)}`).includes(other));
  });
});
