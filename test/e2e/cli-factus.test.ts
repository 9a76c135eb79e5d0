import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import {
  type FactusRunningEmulator,
  startFactusEmulator,
} from '../../src/emulators/factus/factus-emulator.js';
import { type CliSandbox, cliPath, createCliSandbox, factusEnv } from '../helpers/cli.js';

const validBill = {
  numbering_range_id: 8,
  reference_code: 'cli-e2e-1',
  customer: { identification: '123456789', names: 'Cliente', email: 'c@example.com' },
  items: [{ code_reference: 'A1', name: 'Item', quantity: 1, price: 1000, tax_rate: '19.00' }],
};

describe('tokenkeeper CLI against the Factus emulator', () => {
  let emulator: FactusRunningEmulator;
  let cli: CliSandbox;
  const issuedTokens: string[] = [];

  before(async () => {
    emulator = await startFactusEmulator();
    cli = await createCliSandbox(factusEnv(emulator));
  });
  after(async () => {
    await emulator.stop();
    await cli.cleanup();
    // No command but `token` may print a secret.
    const transcript = cli.transcript();
    for (const secret of [emulator.credentials.clientSecret, emulator.credentials.password]) {
      assert.equal(transcript.includes(secret), false, 'a secret appeared in CLI output');
    }
  });

  it('login saves a connection from the environment variables', async () => {
    const result = await cli.run(['login', 'acme', '--provider', 'factus', '--base-url', emulator.url]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /Logged in to factus \(http:\/\/127\.0\.0\.1:\d+\) as connection "acme"/);
    assert.equal(result.stdout, '');
    assert.equal(emulator.stats().tokenRequests.password, 1);
  });

  it('token prints only a fresh access token, usable with curl-style requests', async () => {
    const result = await cli.run(['token', 'acme']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    assert.equal(result.stderr, '');
    const token = result.stdout.trim();
    issuedTokens.push(token);
    const api = await fetch(`${emulator.url}/v1/numbering-ranges`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(api.status, 200);
    await api.arrayBuffer();
  });

  it('request GET prints the body and exits 0', async () => {
    const result = await cli.run(['request', 'acme', 'GET', '/v1/bills?page=1']);
    assert.equal(result.code, 0, result.stderr);
    const body = JSON.parse(result.stdout) as { status: string; data: { pagination: unknown } };
    assert.equal(body.status, 'OK');
    assert.ok(body.data.pagination);
  });

  it('request POST with --data JSON and @file', async () => {
    const inline = await cli.run([
      'request',
      'acme',
      'post',
      '/v1/bills/validate',
      '--data',
      JSON.stringify(validBill),
    ]);
    assert.equal(inline.code, 0, inline.stderr);
    assert.equal((JSON.parse(inline.stdout) as { status: string }).status, 'Created');

    const file = join(cli.home, 'bill.json');
    await writeFile(file, JSON.stringify({ ...validBill, reference_code: 'cli-e2e-2' }));
    const fromFile = await cli.run(['request', 'acme', 'POST', '/v1/bills/validate', '--data', `@${file}`]);
    assert.equal(fromFile.code, 0, fromFile.stderr);

    const fromStdin = await cli.run(['request', 'acme', 'POST', '/v1/bills/validate', '--data', '@-'], {
      input: JSON.stringify({ ...validBill, reference_code: 'cli-e2e-3' }),
    });
    assert.equal(fromStdin.code, 0, fromStdin.stderr);
  });

  it('request exits 1 on a non-2xx answer, with the status and the provider’s message on stderr', async () => {
    const result = await cli.run(['request', 'acme', 'POST', '/v1/bills/validate', '--data', '{"items":[]}']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^HTTP 422 .*: .+/);
    assert.match(result.stdout, /Validation error/);
  });

  it('request refuses bad input with exit 2', async () => {
    const badJson = await cli.run(['request', 'acme', 'POST', '/v1/bills/validate', '--data', '{nope']);
    assert.equal(badJson.code, 2);
    assert.match(badJson.stderr, /--data is not valid JSON/);
    const badMethod = await cli.run(['request', 'acme', 'FETCH', '/v1/bills']);
    assert.equal(badMethod.code, 2);
    const authHeader = await cli.run([
      'request',
      'acme',
      'GET',
      '/v1/bills',
      '--header',
      'Authorization: Bearer x',
    ]);
    assert.equal(authHeader.code, 2);
    assert.match(authHeader.stderr, /sets Authorization itself/);
    const missing = await cli.run(['request', 'acme', 'GET']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /Missing <path>/);
  });

  it('status shows provider, expiry, last refresh and state, with no secret', async () => {
    const result = await cli.run(['status']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /\nacme\n/);
    assert.match(result.stdout, /state: +ok/);
    assert.match(
      result.stdout,
      /expiry: +valid until \d{4}-\d\d-\d\dT.* \(in (59|60)m\); refreshes on next use/,
    );
    assert.match(result.stdout, /refresh token: saved \(encrypted\)/);
    for (const token of issuedTokens) assert.equal(result.stdout.includes(token), false);

    const json = await cli.run(['status', '--json']);
    assert.equal(json.code, 0);
    const [entry] = JSON.parse(json.stdout) as Array<Record<string, unknown>>;
    assert.equal(entry?.name, 'acme');
    assert.equal(entry?.provider, 'factus');
    assert.equal(entry?.state, 'ok');
    assert.match(String(entry?.expiresAt), /^\d{4}-/);
    assert.equal(JSON.stringify(entry).includes('secret'), false);
  });

  it('refresh replaces the tokens', async () => {
    const before = emulator.stats().tokenRequests.refresh_token ?? 0;
    const result = await cli.run(['refresh', 'acme']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /Refreshed "acme"/);
    assert.equal(emulator.stats().tokenRequests.refresh_token, before + 1);
    const token = (await cli.run(['token', 'acme'])).stdout.trim();
    assert.notEqual(token, issuedTokens[0]);
  });

  it('login again without --provider keeps the connection’s provider and base URL', async () => {
    const result = await cli.run(['login', 'acme']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /Logged in to factus/);
  });

  it('exit 4 when the provider cannot be reached, exit 3 when a new login is needed', async () => {
    await cli.run(['login', 'doomed', '--provider', 'factus', '--base-url', emulator.url]);
    const port = Number(new URL(emulator.url).port);
    await emulator.stop();
    const unreachable = await cli.run(['refresh', 'doomed']);
    assert.equal(unreachable.code, 4, unreachable.stderr);
    assert.match(unreachable.stderr, /Could not reach the token endpoint/);

    // It comes back without our refresh token and with another password: nothing left to try.
    emulator = await startFactusEmulator({ port, credentials: { password: 'a-new-password' } });
    const reauth = await cli.run(['refresh', 'doomed']);
    assert.equal(reauth.code, 3, reauth.stderr);
    assert.match(reauth.stderr, /tokenkeeper login doomed/);
    const token = await cli.run(['token', 'doomed']);
    assert.equal(token.code, 3);
    // As gh does: a status that shows a connection needing a login exits 1.
    const status = await cli.run(['status', 'doomed']);
    assert.equal(status.code, 1);
    assert.match(status.stdout, /re-authorization required/);
    // The login it asks for works.
    const login = await cli.run(['login', 'doomed'], { env: { FACTUS_PASSWORD: 'a-new-password' } });
    assert.equal(login.code, 0, login.stderr);
    assert.equal((await cli.run(['status', 'doomed'])).code, 0);
  });

  it('logout forgets the connection', async () => {
    const result = await cli.run(['logout', 'acme']);
    assert.equal(result.code, 0, result.stderr);
    const token = await cli.run(['token', 'acme']);
    assert.equal(token.code, 1);
    assert.match(token.stderr, /no connection named "acme"/);
    assert.equal((await cli.run(['logout', 'acme'])).code, 1);
  });
});

describe('tokenkeeper CLI usage errors', () => {
  let cli: CliSandbox;
  before(async () => {
    cli = await createCliSandbox();
  });
  after(() => cli.cleanup());

  it('exit 2 for an unknown command, a missing provider, missing credentials or a bad flag', async () => {
    assert.equal((await cli.run(['frobnicate'])).code, 2);
    const noProvider = await cli.run(['login', 'new']);
    assert.equal(noProvider.code, 2);
    assert.match(noProvider.stderr, /say which provider/);
    assert.match(noProvider.stderr, /\n {2}tokenkeeper login new --provider factus\n/);
    const noCreds = await cli.run(['login', 'new', '--provider', 'factus']);
    assert.equal(noCreds.code, 2);
    assert.match(noCreds.stderr, /FACTUS_CLIENT_ID \(or TOKENKEEPER_CLIENT_ID\)/);
    const unknownProvider = await cli.run(['login', 'new', '--provider', 'nope']);
    assert.equal(unknownProvider.code, 2);
    assert.match(unknownProvider.stderr, /Unknown provider "nope"/);
    const badFlag = await cli.run(['status', '--colour']);
    assert.equal(badFlag.code, 2);
    assert.match(badFlag.stderr, /Usage: tokenkeeper status/);
  });

  it('help and version', async () => {
    const help = await cli.run(['--help']);
    assert.equal(help.code, 0);
    for (const command of ['login', 'status', 'token', 'request', 'refresh', 'logout', 'demo', 'emulate']) {
      assert.match(help.stdout, new RegExp(`\\n  ${command} `));
    }
    assert.match((await cli.run(['--version'])).stdout, /^\d+\.\d+\.\d+\n$/);
    assert.equal((await cli.run(['status'])).code, 0);
  });
});

describe('tokenkeeper emulate and demo', () => {
  it('emulate factus --json prints one JSON start line, serves, and stops on SIGTERM', async () => {
    const child = spawn(process.execPath, [cliPath, 'emulate', 'factus', '--port', '0', '--json'], {
      stdio: 'pipe',
    });
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const first = await lines.next();
    const start = JSON.parse(first.value as string) as Record<string, string>;
    assert.equal(start.provider, 'factus');
    assert.match(start.url!, /^http:\/\/127\.0\.0\.1:\d+$/);
    const cli = await createCliSandbox({
      FACTUS_CLIENT_ID: start.clientId,
      FACTUS_CLIENT_SECRET: start.clientSecret,
      FACTUS_USERNAME: start.username,
      FACTUS_PASSWORD: start.password,
    });
    try {
      const login = await cli.run(['login', 'emu', '--provider', 'factus', '--base-url', start.url!]);
      assert.equal(login.code, 0, login.stderr);
      const stats = (await (await fetch(`${start.url}/__emulator/stats`)).json()) as {
        tokenRequests: { password: number };
      };
      assert.equal(stats.tokenRequests.password, 1);
    } finally {
      await cli.cleanup();
    }
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    child.kill('SIGTERM');
    assert.equal(await exited, 143, 'SIGTERM ends it as it ends every command');
    await assert.rejects(fetch(`${start.url}/__emulator/stats`), 'it stopped listening');
  });

  it('emulate stops on Ctrl-C, says so, and exits 130', async () => {
    const child = spawn(process.execPath, [cliPath, 'emulate', 'factorial', '--port', '0'], {
      stdio: 'pipe',
    });
    try {
      let stdout = '';
      let stderr = '';
      child.stderr.on('data', (chunk) => {
        stderr += chunk;
      });
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (chunk) => {
          stdout += chunk;
          const shown = /Press Ctrl\+C to stop/.test(stdout) && /^ {2}URL:\s+(\S+)$/m.exec(stdout);
          if (shown) resolve(shown[1] as string);
        });
        child.on('close', () => reject(new Error(`the emulator ended early:\n${stdout}${stderr}`)));
      });
      assert.equal((await fetch(`${url}/__emulator/stats`)).status, 200);
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
      child.kill('SIGINT');
      assert.equal(await exited, 130);
      assert.match(stderr, /Factorial emulator stopped\./);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('demo runs the README’s main job end to end', async () => {
    const cli = await createCliSandbox();
    try {
      const result = await cli.run(['demo', '--seconds', '8']);
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.match(result.stdout, /factus: logged in with the password grant/);
      assert.match(result.stdout, /factorial: logged in with the authorization code/);
      assert.match(result.stdout, /factorial-key: API key verified/);
      assert.match(result.stdout, /factus: worker-\d refreshed, refresh token rotated/);
      assert.match(result.stdout, /\d+ sent, \d+ succeeded, 0 failed/);
      assert.match(result.stdout, /Factus saw: .* 0 invalid_grant/);
      assert.match(result.stdout, /Factorial saw: .* 0 invalid_grant/);
      // The closing line claims no more than the providers saw.
      const unauthorized = [...result.stdout.matchAll(/(\d+) × 401/g)].reduce(
        (sum, m) => sum + Number(m[1]),
        0,
      );
      assert.match(
        result.stdout,
        unauthorized === 0
          ? /Every request carried a valid credential/
          : /Every request succeeded\. .* met a 401/,
      );
    } finally {
      await cli.cleanup();
    }
  });
});
