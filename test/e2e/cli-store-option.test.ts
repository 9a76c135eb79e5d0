/**
 * `--store LOCATION` as a person uses it: a store that does not exist yet is read as an empty
 * one and only `login` creates it (a mistyped path leaves nothing behind), and every command a
 * message tells them to run reaches that store, not the default one.
 */

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type FactusRunningEmulator,
  startFactusEmulator,
} from '../../src/emulators/factus/factus-emulator.js';
import { type CliSandbox, createCliSandbox, factusEnv, startFactusCli } from '../helpers/cli.js';

describe('a store that does not exist yet', () => {
  let cli: CliSandbox;
  let factus: FactusRunningEmulator;
  let missing: string;

  before(async () => {
    ({ emulator: factus, cli } = await startFactusCli([]));
    missing = join(cli.home, 'typo', 'tokns.db');
  });
  after(async () => {
    await factus.stop();
    await cli.cleanup();
  });

  it('reads as empty for every command but login, which creates it', async () => {
    const status = await cli.run(['--store', missing, 'status']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(
      status.stdout,
      /^Store: .*tokns\.db \(SQLite\), not created yet\nKey: {3}key file .*tokns\.key \(none yet\)\n/,
    );
    assert.match(status.stderr, /No connections yet/);
    assert.deepEqual(JSON.parse((await cli.run(['--store', missing, 'status', '--json'])).stdout), []);
    for (const args of [
      ['token', 'acme'],
      ['token'],
      ['refresh', 'acme'],
      ['whoami', 'acme'],
      ['request', 'acme', 'GET', '/v1/bills'],
      ['logout', 'acme'],
      ['env', 'acme'],
    ]) {
      const result = await cli.run(['--store', missing, ...args]);
      assert.notEqual(result.code, 0, `${args.join(' ')} on a missing store is not a success`);
      assert.match(result.stderr, /no connection|no connections yet/i, args.join(' '));
    }
    const names = await cli.run(['--store', missing, 'completion', 'bash', '--connections']);
    assert.deepEqual([names.code, names.stdout], [0, '']);
    const rekey = await cli.run(['--store', missing, 'rekey']);
    assert.equal(rekey.code, 2);
    assert.match(
      rekey.stderr,
      new RegExp(`There is no store at ${missing.replace(/[.]/g, '\\.')}: nothing to re-seal`),
    );
    assert.equal(existsSync(join(cli.home, 'typo')), false, 'nothing was created for the mistyped path');

    const login = await cli.run(
      ['--store', missing, 'login', 'acme', '--provider', 'factus', '--base-url', factus.url],
      {
        env: factusEnv(factus),
      },
    );
    assert.equal(login.code, 0, login.stderr);
    assert.deepEqual((await readdir(join(cli.home, 'typo'))).sort(), ['tokns.db', 'tokns.key']);
    assert.equal((await stat(missing)).mode & 0o777, 0o600);
    const after = await cli.run(['--store', missing, 'status']);
    assert.doesNotMatch(after.stdout, /not created yet|none yet|other users/);
    assert.match(after.stdout, /Key: {3}key file .*tokns\.key, key id \S+/);
    // A store file others may read (made by hand, copied) is pointed out, with the fix.
    await chmod(missing, 0o644);
    const open = await cli.run(['--store', missing, 'status']);
    assert.match(
      open.stdout,
      /^Store: .*tokns\.db \(SQLite\); other users may read it \(mode 0644\): run `chmod 600 \S+tokns\.db`\n/,
    );
    await chmod(missing, 0o600);
  });
});

describe('commands in messages reach the store given with --store', () => {
  let cli: CliSandbox;
  let factus: FactusRunningEmulator;
  let other: string;

  before(async () => {
    ({ emulator: factus, cli } = await startFactusCli([]));
    other = join(cli.home, 'other store', 'tokens.db');
  });
  after(async () => {
    await factus.stop();
    await cli.cleanup();
  });

  it('the login a missing connection is told to run works as written, in that store', async () => {
    const refused = await cli.run(['--store', other, 'token', 'acme']);
    assert.equal(refused.code, 1);
    const quoted = `'${other}'`;
    const suggested = refused.stderr.split('\n').find((line) => line.includes('--provider factus'));
    assert.equal(suggested?.trim(), `tokenkeeper --store ${quoted} login acme --provider factus`);
    const login = await cli.shell(`${suggested!.trim()} --base-url ${factus.url}`, {
      env: factusEnv(factus),
    });
    assert.equal(login.code, 0, login.stderr);
    assert.equal((await cli.run(['--store', other, 'token', 'acme'])).code, 0);
    assert.equal(existsSync(cli.storePath), false, 'the default store was not touched');
  });

  it('status names the store in the command that fixes a connection', async () => {
    const port = Number(new URL(factus.url).port);
    await factus.stop();
    factus = await startFactusEmulator({ port, credentials: { password: 'changed' } });
    assert.equal((await cli.run(['--store', other, 'refresh', 'acme'])).code, 3);
    const status = await cli.run(['--store', other, 'status']);
    assert.equal(status.code, 1);
    assert.match(status.stdout, /run `tokenkeeper --store '[^']+' login acme`/);
    // Given by TOKENKEEPER_STORE instead, the shell already reaches it: commands stay as they are.
    const fromEnv = await cli.run(['status'], { env: { TOKENKEEPER_STORE: other } });
    assert.match(fromEnv.stdout, /run `tokenkeeper login acme`/);
  });
});

describe('a store that cannot be used', () => {
  let cli: CliSandbox;
  before(async () => {
    cli = await createCliSandbox({ TOKENKEEPER_KEY: randomBytes(32).toString('base64') });
  });
  after(() => cli.cleanup());

  it('exits 4 when its server cannot be reached (try again later), 2 when it is not a store (fix it)', async () => {
    for (const location of ['postgres://postgres@127.0.0.1:1/test', 'redis://127.0.0.1:1']) {
      const result = await cli.run(['--store', location, 'status']);
      assert.equal(result.code, 4, `${location}: ${result.stderr}`);
      assert.match(result.stderr, /check that the server is up/);
    }
    const damaged = join(cli.home, 'damaged.db');
    await writeFile(damaged, 'not a database '.repeat(100));
    const result = await cli.run(['--store', damaged, 'token', 'acme']);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /not a tokenkeeper database or is damaged/);
  });
});
