/**
 * `tokenkeeper rekey` as a user runs it on the default SQLite store and its key file:
 * a new key file, the old key in TOKENKEEPER_PREVIOUS_KEYS, rekey, and `status --json`
 * shows the key id of each connection, never a key.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rename, writeFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import type { FactusRunningEmulator } from '../../src/emulators/factus/factus-emulator.js';
import { createSecretBox, encryptionKeyId, parseEncryptionKey } from '../../src/store/encryption.js';
import { SqliteTokenStore } from '../../src/store/sqlite-store.js';
import { type CliSandbox, startFactusCliWithKeyFile } from '../helpers/cli.js';

describe('tokenkeeper rekey', () => {
  let emulator: FactusRunningEmulator;
  let cli: CliSandbox;
  let keyFile: string;
  const lostKey = randomBytes(32).toString('base64');
  const newKey = randomBytes(32).toString('base64');
  let oldKey: string;

  before(async () => {
    ({ emulator, cli, keyFile, key: oldKey } = await startFactusCliWithKeyFile());
  });
  after(async () => {
    await emulator.stop();
    const transcript = cli.transcript();
    await cli.cleanup();
    for (const secret of [
      emulator.credentials.clientSecret,
      emulator.credentials.password,
      oldKey,
      newKey,
      lostKey,
    ]) {
      assert.equal(transcript.includes(secret), false, 'no secret or key in any output');
    }
  });

  const idOf = (key: string) => encryptionKeyId(parseEncryptionKey(key));

  it('re-seals every connection under a new key file, reading them with the previous key', async () => {
    await rename(keyFile, `${keyFile}.old`);
    await writeFile(keyFile, `${newKey}\n`, { mode: 0o600 });

    const without = await cli.run(['token', 'acme']);
    assert.equal(without.code, 2, 'the new key alone opens nothing yet');
    assert.match(
      without.stderr,
      new RegExp(`sealed with key ${idOf(oldKey)}.*TOKENKEEPER_PREVIOUS_KEYS`, 's'),
    );

    const rekey = await cli.run(['rekey'], { env: { TOKENKEEPER_PREVIOUS_KEYS: oldKey } });
    assert.equal(rekey.code, 0, rekey.stderr);
    assert.equal(
      rekey.stderr,
      `Re-sealed 2 connections under key ${idOf(newKey)}; 0 connections already were.\n`,
    );

    // The previous key is no longer needed.
    assert.equal((await cli.run(['token', 'acme'])).code, 0);
    const status = await cli.run(['status', '--json']);
    assert.equal(status.code, 0, status.stderr);
    const connections = JSON.parse(status.stdout) as Array<{ name: string; keyId: string }>;
    assert.deepEqual(
      connections.map((c) => [c.name, c.keyId]),
      [
        ['acme', idOf(newKey)],
        ['beta', idOf(newKey)],
      ],
    );
    const text = await cli.run(['status', 'beta']);
    assert.match(text.stdout, new RegExp(`sealed with: +key ${idOf(newKey)}`));
    assert.doesNotMatch(text.stdout, /previous keys/);
    const during = await cli.run(['status', 'beta'], { env: { TOKENKEEPER_PREVIOUS_KEYS: oldKey } });
    assert.match(during.stdout, /Key: +key file .*; previous keys from TOKENKEEPER_PREVIOUS_KEYS\n/);
  });

  it('reports a connection no key opens, exits 1, and re-seals the rest', async () => {
    // Logged in on a host with another key: nothing here opens it.
    const lost = await cli.run(['login', 'lost', '--provider', 'factus', '--base-url', emulator.url], {
      env: { TOKENKEEPER_KEY: lostKey },
    });
    assert.equal(lost.code, 0, lost.stderr);

    const rekey = await cli.run(['rekey', '--json'], { env: { TOKENKEEPER_PREVIOUS_KEYS: oldKey } });
    assert.equal(rekey.code, 1, rekey.stderr);
    const result = JSON.parse(rekey.stdout) as {
      keyId: string;
      resealed: string[];
      alreadyCurrent: string[];
      failed: Array<{ name: string; keyId: string; code: string }>;
    };
    assert.equal(result.keyId, idOf(newKey));
    assert.deepEqual(result.resealed, []);
    assert.deepEqual(result.alreadyCurrent, ['acme', 'beta']);
    assert.deepEqual(
      result.failed.map(({ name, keyId, code }) => ({ name, keyId, code })),
      [{ name: 'lost', keyId: idOf(lostKey), code: 'STORE_KEY' }],
    );
    assert.match(rekey.stderr, /Could not open 1 connection; left as it was:/);
    assert.match(rekey.stderr, new RegExp(`lost \\(sealed with key ${idOf(lostKey)}\\)`));
    assert.match(rekey.stderr, /Add the key each was sealed with to TOKENKEEPER_PREVIOUS_KEYS/);

    const status = await cli.run(['status', 'lost', '--json']);
    assert.equal((JSON.parse(status.stdout) as { keyId: string }).keyId, idOf(lostKey));
  });

  it('says so when there is nothing to re-seal', async () => {
    const empty = await cli.run(['--store', 'memory:', 'rekey']);
    assert.equal(empty.code, 0, empty.stderr);
    assert.match(empty.stderr, /^No connections to re-seal; the current key is [A-Za-z0-9_-]{8}\.\n$/);
  });

  it('binds connections saved before their settings were sealed, and names one whose settings it refuses', async () => {
    assert.equal((await cli.run(['logout', 'lost', '--local-only'])).code, 0);
    // Both as the versions before binding sealed them, under the current key; beta's base URL
    // is one no login accepts.
    const box = createSecretBox(parseEncryptionKey(newKey));
    const store = await SqliteTokenStore.open(cli.storePath);
    try {
      for (const [name, baseUrl] of [
        ['acme', undefined],
        ['beta', 'http://evil.example'],
      ] as const) {
        const row = (await store.get(name))!;
        const { $bound: _settings, ...secrets } = JSON.parse(box.open(row.sealed, name)) as Record<
          string,
          unknown
        >;
        const meta = baseUrl ? { ...row.meta, baseUrl } : row.meta;
        assert.ok(await store.put(name, meta, box.seal(JSON.stringify(secrets), name), row.version));
      }
    } finally {
      await store.close();
    }

    const before = JSON.parse((await cli.run(['status', 'acme', '--json'])).stdout) as {
      settingsBound: boolean;
    };
    assert.equal(before.settingsBound, false);
    assert.match(
      (await cli.run(['status', 'acme'])).stdout,
      /\n {2}sealed with: +key \S+; its settings are not sealed yet: run `tokenkeeper rekey`\n/,
    );

    const rekey = await cli.run(['rekey', '--json']);
    assert.equal(rekey.code, 1, rekey.stderr);
    const result = JSON.parse(rekey.stdout) as {
      resealed: string[];
      alreadyCurrent: string[];
      failed: Array<{ name: string; code: string }>;
    };
    assert.deepEqual(result.resealed, ['acme']);
    assert.deepEqual(result.alreadyCurrent, []);
    assert.deepEqual(
      result.failed.map(({ name, code }) => ({ name, code })),
      [{ name: 'beta', code: 'STORE_TAMPERED' }],
    );
    assert.match(rekey.stderr, /^Re-sealed 1 connection under key /);
    assert.match(rekey.stderr, /Refused 1 connection whose saved settings cannot be used; left as it was:/);
    assert.match(
      rekey.stderr,
      /beta \(sealed with key [^)]+\): .*base URL http:\/\/evil\.example uses plain http/,
    );
    assert.match(rekey.stderr, /Log in to each again \(`tokenkeeper login <name>`\)/);
    assert.doesNotMatch(rekey.stderr, /Could not open/);

    const after = JSON.parse((await cli.run(['status', 'acme', '--json'])).stdout) as {
      settingsBound: boolean;
    };
    assert.equal(after.settingsBound, true);
    assert.doesNotMatch((await cli.run(['status', 'acme'])).stdout, /not sealed yet/);

    const again = await cli.run(['rekey', '--json']);
    assert.deepEqual((JSON.parse(again.stdout) as { alreadyCurrent: string[] }).alreadyCurrent, ['acme']);
    const usage = await cli.run(['rekey', '--help']);
    assert.match(usage.stdout, /saved before tokenkeeper sealed its settings/);
  });

  it('refuses a malformed TOKENKEEPER_PREVIOUS_KEYS, naming the entry and not echoing it', async () => {
    const bad = 'not-a-key-at-all';
    const rekey = await cli.run(['rekey'], { env: { TOKENKEEPER_PREVIOUS_KEYS: `${oldKey},${bad}` } });
    assert.equal(rekey.code, 2);
    assert.match(rekey.stderr, /TOKENKEEPER_PREVIOUS_KEYS \(entry 2\) is not a valid encryption key/);
    assert.equal(rekey.stderr.includes(bad), false);
  });
});
