/**
 * `login` over a connection whose secrets cannot be opened (another key, a damaged blob), or
 * whose saved settings are refused, without a terminal: it is kept unless --force says to
 * replace it, the message says the ways out, and its saved base URL is never reused. (The
 * terminal's question is in cli-prompt.test.ts.)
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  type FactusRunningEmulator,
  startFactusEmulator,
} from '../../src/emulators/factus/factus-emulator.js';
import { createSecretBox, encryptionKeyId, parseEncryptionKey } from '../../src/store/encryption.js';
import { SqliteTokenStore } from '../../src/store/sqlite-store.js';
import { type CliSandbox, createCliSandbox, factusEnv } from '../helpers/cli.js';

describe('login over a connection whose secrets cannot be opened', () => {
  let emulator: FactusRunningEmulator;
  let cli: CliSandbox;
  const firstKey = randomBytes(32).toString('base64');
  const otherKey = randomBytes(32).toString('base64');

  before(async () => {
    emulator = await startFactusEmulator();
    cli = await createCliSandbox(factusEnv(emulator));
  });
  after(async () => {
    await emulator.stop();
    const transcript = cli.transcript();
    await cli.cleanup();
    for (const secret of [
      emulator.credentials.clientSecret,
      emulator.credentials.password,
      firstKey,
      otherKey,
    ]) {
      assert.equal(transcript.includes(secret), false, 'no secret or key in any output');
    }
  });

  const login = (name: string, key: string, ...flags: string[]) =>
    cli.run(['login', name, ...flags], { env: { TOKENKEEPER_KEY: key } });

  it('under another key: kept without --force, saying how to keep or replace it; replaced with --force', async () => {
    const first = await login('acme', firstKey, '--provider', 'factus', '--base-url', emulator.url);
    assert.equal(first.code, 0, first.stderr);

    const refused = await login('acme', otherKey, '--base-url', emulator.url);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /The saved secrets of "acme" cannot be opened:/);
    assert.match(
      refused.stderr,
      /"acme" was kept\. To replace it with a new login, run the same command with --force/,
    );
    assert.match(
      refused.stderr,
      new RegExp(`TOKENKEEPER_PREVIOUS_KEYS, the key it was sealed with \\(key id ${keyId(firstKey)}\\)`),
    );
    assert.equal(
      (await cli.run(['token', 'acme'], { env: { TOKENKEEPER_KEY: firstKey } })).code,
      0,
      'the connection still works with its own key',
    );

    // Its base URL sits in clear, unauthenticated without the secrets: it is not reused.
    const noBase = await login('acme', otherKey, '--force');
    assert.equal(noBase.code, 2, noBase.stderr);
    assert.match(
      noBase.stderr,
      /its saved base URL is not trusted without them: say where to log in with --base-url/,
    );

    const logins = emulator.stats().tokenRequests.password ?? 0;
    const replaced = await login('acme', otherKey, '--base-url', emulator.url, '--force');
    assert.equal(replaced.code, 0, replaced.stderr);
    assert.match(replaced.stderr, /Logged in to factus .* as connection "acme"/);
    assert.match(replaced.stderr, /its old tokens were not revoked/);
    assert.equal(emulator.stats().tokenRequests.password, logins + 1);
    assert.equal((await cli.run(['token', 'acme'], { env: { TOKENKEEPER_KEY: otherKey } })).code, 0);
    const status = await cli.run(['status', 'acme', '--json'], { env: { TOKENKEEPER_KEY: otherKey } });
    assert.equal((JSON.parse(status.stdout) as { keyId: string }).keyId, keyId(otherKey));
  });

  it('a damaged (truncated) blob under the current key is replaced with --force', async () => {
    const first = await login('beta', otherKey, '--provider', 'factus', '--base-url', emulator.url);
    assert.equal(first.code, 0, first.stderr);
    const store = await SqliteTokenStore.open(cli.storePath);
    try {
      const row = (await store.get('beta'))!;
      assert.ok(await store.put('beta', row.meta, row.sealed.slice(0, -12), row.version));
    } finally {
      await store.close();
    }
    assert.equal((await cli.run(['token', 'beta'], { env: { TOKENKEEPER_KEY: otherKey } })).code, 2);

    const refused = await login('beta', otherKey, '--base-url', emulator.url);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /cannot be opened:\n {2}.*integrity check/);

    const replaced = await login('beta', otherKey, '--base-url', emulator.url, '--force');
    assert.equal(replaced.code, 0, replaced.stderr);
    assert.equal((await cli.run(['token', 'beta'], { env: { TOKENKEEPER_KEY: otherKey } })).code, 0);
  });

  it('a saved base URL that a login would refuse: named by every command, and replaced with --force', async () => {
    const first = await login('gamma', otherKey, '--provider', 'factus', '--base-url', emulator.url);
    assert.equal(first.code, 0, first.stderr);
    // As an older version, whose loopback check took such names, would have saved it.
    const refusedUrl = 'http://127.0.0.1.nip.io';
    const store = await SqliteTokenStore.open(cli.storePath);
    try {
      const row = (await store.get('gamma'))!;
      const box = createSecretBox(parseEncryptionKey(otherKey));
      const sealed = JSON.parse(box.open(row.sealed, 'gamma')) as { $bound: Record<string, unknown> };
      sealed.$bound.baseUrl = refusedUrl;
      const meta = { ...row.meta, baseUrl: refusedUrl };
      assert.ok(await store.put('gamma', meta, box.seal(JSON.stringify(sealed), 'gamma'), row.version));
    } finally {
      await store.close();
    }
    const run = (...args: string[]) => cli.run(args, { env: { TOKENKEEPER_KEY: otherKey } });

    const token = await run('token', 'gamma');
    assert.equal(token.code, 2, token.stderr);
    assert.match(token.stderr, /The base URL http:\/\/127\.0\.0\.1\.nip\.io uses plain http/);
    assert.match(
      token.stderr,
      /Run `tokenkeeper login gamma --base-url https:\/\/… --force` to set the connection up again \(its URLs must be https\)/,
    );
    const status = await run('status', 'gamma');
    assert.equal(status.code, 1, 'status shows it, as a connection that does not open');
    assert.match(status.stdout, /gamma/);

    const noBase = await run('login', 'gamma');
    assert.equal(noBase.code, 2, noBase.stderr);
    assert.match(
      noBase.stderr,
      /The saved settings of "gamma" cannot be used, so its saved base URL is not reused: say where to log in with --base-url/,
    );
    const kept = await run('login', 'gamma', '--base-url', emulator.url);
    assert.equal(kept.code, 2, kept.stderr);
    assert.match(kept.stderr, /The saved settings of "gamma" cannot be used:\n {2}.*uses plain http/);
    assert.match(
      kept.stderr,
      /"gamma" was kept\. To replace it with a new login, run the same command with --force/,
    );
    for (const output of [noBase.stderr, kept.stderr]) {
      assert.doesNotMatch(output, /TOKENKEEPER_PREVIOUS_KEYS/, 'no key would make these settings usable');
    }

    const replaced = await run('login', 'gamma', '--base-url', emulator.url, '--force');
    assert.equal(replaced.code, 0, replaced.stderr);
    assert.match(replaced.stderr, /Replaced the connection whose settings could not be used/);
    assert.equal((await run('token', 'gamma')).code, 0);
  });
});

function keyId(key: string): string {
  return encryptionKeyId(parseEncryptionKey(key));
}
