import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  createSecretBox,
  encryptionKeyId,
  parseEncryptionKey,
  parsePreviousEncryptionKeys,
  resolveEncryptionKey,
  sealedKeyId,
} from '../../src/store/encryption.js';

const root = mkdtempSync(join(tmpdir(), 'tokenkeeper-key-'));
after(() => rmSync(root, { recursive: true, force: true }));
const posix = process.platform !== 'win32';

interface CodedError extends Error {
  code?: string;
}

function storeKeyError(pattern: RegExp) {
  return (error: CodedError) => {
    assert.equal(error.code, 'STORE_KEY');
    assert.match(error.message, pattern);
    return true;
  };
}

describe('createSecretBox', () => {
  const key = randomBytes(32);
  const box = createSecretBox(key);

  it('round-trips text, empty and unicode included', () => {
    for (const plaintext of [
      '',
      'refresh-token-123',
      '{"access_token":"a","refresh_token":"b"}',
      'ü名🔑\n'.repeat(1000),
    ]) {
      assert.equal(box.open(box.seal(plaintext, 'acme'), 'acme'), plaintext);
    }
  });

  it('writes v1.<keyId>.<iv>.<tag>.<ciphertext> with a fresh IV each time', () => {
    const one = box.seal('secret', 'acme');
    const two = box.seal('secret', 'acme');
    assert.notEqual(one, two);
    const parts = one.split('.');
    assert.equal(parts.length, 5);
    assert.equal(parts[0], 'v1');
    assert.equal(parts[1], box.keyId);
    assert.equal(box.keyId, encryptionKeyId(key));
    assert.equal(Buffer.from(parts[2]!, 'base64url').length, 12);
    assert.equal(Buffer.from(parts[3]!, 'base64url').length, 16);
    for (const part of parts) assert.match(part, /^[A-Za-z0-9_-]+$/);
    assert.doesNotMatch(one, /secret/);
  });

  it('derives a short key id that differs between keys', () => {
    assert.match(box.keyId, /^[A-Za-z0-9_-]{8}$/);
    assert.notEqual(createSecretBox(randomBytes(32)).keyId, box.keyId);
  });

  it('refuses to open with another key: STORE_KEY naming both key ids and what to set', () => {
    const sealed = box.seal('secret', 'acme');
    const other = createSecretBox(randomBytes(32));
    assert.throws(
      () => other.open(sealed, 'acme'),
      storeKeyError(
        new RegExp(
          `encrypted with another key: .*"acme" are sealed with key ${box.keyId}, the current key is ${other.keyId}\\. ` +
            'Set TOKENKEEPER_KEY to the key used when it was written, or add that key to TOKENKEEPER_PREVIOUS_KEYS.*' +
            'tokenkeeper login acme',
        ),
      ),
    );
  });

  it('refuses a value moved to another connection', () => {
    const sealed = box.seal('secret', 'acme');
    assert.throws(
      () => box.open(sealed, 'other'),
      storeKeyError(/"other".*integrity check.*tokenkeeper login other/),
    );
  });

  it('refuses tampered values with STORE_KEY and a clear message', () => {
    const sealed = box.seal('a secret value', 'acme');
    const [version, keyId, iv, tag, ciphertext] = sealed.split('.') as [
      string,
      string,
      string,
      string,
      string,
    ];
    const flip = (text: string) => {
      const bytes = Buffer.from(text, 'base64url');
      bytes[0]! ^= 1;
      return bytes.toString('base64url');
    };
    const tampered = [
      [version, keyId, iv, tag, flip(ciphertext)],
      [version, keyId, flip(iv), tag, ciphertext],
      [version, keyId, iv, flip(tag), ciphertext],
    ].map((parts) => parts.join('.'));
    for (const value of tampered) {
      assert.throws(() => box.open(value, 'acme'), storeKeyError(/integrity check.*Log in again/));
    }
    for (const value of [
      '',
      'plain text',
      `${version}.${keyId}.${iv}.${tag}`,
      `${version}.${keyId}.${iv}.${tag}.${ciphertext}.extra`,
      `${version}.${keyId}.${iv}!.${tag}.${ciphertext}`,
      `${version}.${keyId}.${iv.slice(2)}.${tag}.${ciphertext}`,
    ]) {
      assert.throws(() => box.open(value, 'acme'), storeKeyError(/cannot be opened.*Log in again/));
    }
    assert.throws(
      () => box.open(`v2.${keyId}.${iv}.${tag}.${ciphertext}`, 'acme'),
      storeKeyError(/newer tokenkeeper; upgrade/),
    );
  });

  it('authenticates the key id too: a rewritten header does not open', () => {
    const other = createSecretBox(randomBytes(32));
    const sealed = box.seal('secret', 'acme').split('.');
    sealed[1] = other.keyId;
    assert.throws(() => other.open(sealed.join('.'), 'acme'), storeKeyError(/integrity check/));
  });

  it('keeps a private copy of the key', () => {
    const material = randomBytes(32);
    const own = createSecretBox(material);
    const sealed = own.seal('secret', 'acme');
    material.fill(0);
    assert.equal(own.open(sealed, 'acme'), 'secret');
  });

  it('refuses keys that are not 32 bytes', () => {
    assert.throws(() => createSecretBox(randomBytes(16)), { code: 'CONFIG' });
  });
});

describe('createSecretBox with previous keys (rotation)', () => {
  const oldKey = randomBytes(32);
  const newKey = randomBytes(32);
  const before = createSecretBox(oldKey);
  const during = createSecretBox(newKey, [oldKey]);

  it('opens what the previous key sealed, and seals under the current key only', () => {
    const sealedBefore = before.seal('refresh-token', 'acme');
    assert.equal(during.open(sealedBefore, 'acme'), 'refresh-token');
    const sealedDuring = during.seal('refresh-token', 'acme');
    assert.equal(sealedKeyId(sealedDuring), encryptionKeyId(newKey));
    assert.equal(during.keyId, encryptionKeyId(newKey));
    assert.deepEqual(during.keyIds, [encryptionKeyId(newKey), encryptionKeyId(oldKey)]);
    // A host still on the old key alone cannot read it; once the previous key is dropped, nothing old opens.
    assert.throws(() => before.open(sealedDuring, 'acme'), storeKeyError(/sealed with key/));
    assert.throws(() => createSecretBox(newKey).open(sealedBefore, 'acme'), storeKeyError(/sealed with key/));
  });

  it('still binds a value sealed under a previous key to its connection and header', () => {
    const sealedBefore = before.seal('secret', 'acme');
    assert.throws(() => during.open(sealedBefore, 'other'), storeKeyError(/integrity check/));
    // The header names the current key, but the value was sealed under the old one: refused, not trialled.
    const relabelled = sealedBefore.split('.');
    relabelled[1] = during.keyId;
    assert.throws(() => during.open(relabelled.join('.'), 'acme'), storeKeyError(/integrity check/));
  });

  it('ignores a previous key equal to the current one, and refuses previous keys that are not 32 bytes', () => {
    assert.deepEqual(createSecretBox(newKey, [newKey, oldKey, oldKey]).keyIds, during.keyIds);
    assert.throws(() => createSecretBox(newKey, [randomBytes(16)]), {
      code: 'CONFIG',
      message: /A previous encryption key must be exactly 32 bytes/,
    });
  });

  it('reads the key id of a sealed value without any key, and nothing from other text', () => {
    assert.equal(sealedKeyId(before.seal('x', 'acme')), before.keyId);
    for (const value of ['', 'plain', 'v2.abcdefgh.x.y.z', 'v1..x.y.z', 'v1.ab!cd.x.y.z', 'v1']) {
      assert.equal(sealedKeyId(value), undefined, value);
    }
  });
});

describe('parsePreviousEncryptionKeys', () => {
  const one = randomBytes(32);
  const two = randomBytes(32);

  it('reads comma-separated keys in any TOKENKEEPER_KEY format, skipping empty entries', () => {
    assert.deepEqual(parsePreviousEncryptionKeys(undefined), []);
    assert.deepEqual(parsePreviousEncryptionKeys(' '), []);
    assert.deepEqual(parsePreviousEncryptionKeys(` ${one.toString('base64')} ,${two.toString('hex')},`), [
      one,
      two,
    ]);
  });

  it('names the entry that is not a key, and never echoes it', () => {
    const bad = 'not-a-key-but-maybe-a-secret';
    assert.throws(
      () => parsePreviousEncryptionKeys(`${one.toString('base64')},${bad}`),
      (error: CodedError) => {
        assert.equal(error.code, 'CONFIG');
        assert.match(error.message, /^TOKENKEEPER_PREVIOUS_KEYS \(entry 2\) is not a valid encryption key/);
        assert.ok(!error.message.includes(bad));
        return true;
      },
    );
  });
});

describe('parseEncryptionKey', () => {
  const key = randomBytes(32);

  it('reads base64, unpadded base64, base64url and hex', () => {
    assert.deepEqual(parseEncryptionKey(key.toString('base64')), key);
    assert.deepEqual(parseEncryptionKey(key.toString('base64').replace(/=+$/, '')), key);
    assert.deepEqual(parseEncryptionKey(key.toString('base64url')), key);
    assert.deepEqual(parseEncryptionKey(key.toString('hex')), key);
    assert.deepEqual(parseEncryptionKey(key.toString('hex').toUpperCase()), key);
    assert.deepEqual(parseEncryptionKey(`  ${key.toString('base64')}\n`), key);
  });

  it('refuses anything else with a CONFIG error that explains the format and never echoes the value', () => {
    const bad = [
      '',
      'hunter2-too-short',
      randomBytes(16).toString('base64'),
      randomBytes(33).toString('base64'),
      randomBytes(31).toString('hex'),
      `${key.toString('hex')}00`,
      `${key.toString('base64').slice(0, 40)}!!!=`,
    ];
    for (const value of bad) {
      assert.throws(
        () => parseEncryptionKey(value),
        (error: CodedError) => {
          assert.equal(error.code, 'CONFIG');
          assert.match(error.message, /TOKENKEEPER_KEY/);
          assert.match(error.message, /openssl rand -base64 32/);
          assert.match(error.message, /64 hex characters/);
          if (value.length > 4) assert.ok(!error.message.includes(value.trim()), 'the value is not echoed');
          return true;
        },
      );
    }
  });
});

describe('resolveEncryptionKey', () => {
  let counter = 0;
  function freshKeyFile(): string {
    counter += 1;
    return join(root, `dir-${counter}`, 'sub', 'tokenkeeper.key');
  }

  it('takes TOKENKEEPER_KEY first, and then creates no key file', async () => {
    const key = randomBytes(32);
    const keyFile = freshKeyFile();
    const resolved = await resolveEncryptionKey({
      env: { TOKENKEEPER_KEY: key.toString('base64') },
      keyFile,
      createIfMissing: true,
    });
    assert.deepEqual(resolved, key);
    assert.throws(() => statSync(keyFile), { code: 'ENOENT' });
  });

  it('refuses a malformed TOKENKEEPER_KEY even when a key file exists', async () => {
    const keyFile = freshKeyFile();
    await resolveEncryptionKey({ env: {}, keyFile, createIfMissing: true });
    await assert.rejects(resolveEncryptionKey({ env: { TOKENKEEPER_KEY: 'nope' }, keyFile }), {
      code: 'CONFIG',
    });
  });

  it('creates the key file 0600 (directories 0700) and reads the same key back', async () => {
    const keyFile = freshKeyFile();
    const created = await resolveEncryptionKey({ env: {}, keyFile, createIfMissing: true });
    assert.equal(created.length, 32);
    if (posix) {
      assert.equal(statSync(keyFile).mode & 0o777, 0o600);
      assert.equal(statSync(join(keyFile, '..')).mode & 0o777, 0o700);
    }
    assert.deepEqual(parseEncryptionKey(readFileSync(keyFile, 'utf8')), created);
    assert.deepEqual(await resolveEncryptionKey({ env: {}, keyFile }), created);
    assert.deepEqual(await resolveEncryptionKey({ env: { TOKENKEEPER_KEY: ' ' }, keyFile }), created);
  });

  it('agrees on one key when many callers create it at once', async () => {
    const keyFile = freshKeyFile();
    const keys = await Promise.all(
      Array.from({ length: 20 }, () => resolveEncryptionKey({ env: {}, keyFile, createIfMissing: true })),
    );
    for (const key of keys) assert.deepEqual(key, keys[0]);
    assert.deepEqual(parseEncryptionKey(readFileSync(keyFile, 'utf8')), keys[0]);
  });

  it('agrees on one key when several processes create it at once', async () => {
    const keyFile = freshKeyFile();
    const moduleUrl = new URL('../../src/store/encryption.js', import.meta.url).href;
    const script =
      `const { resolveEncryptionKey } = await import(${JSON.stringify(moduleUrl)});` +
      `const key = await resolveEncryptionKey({ env: {}, keyFile: ${JSON.stringify(keyFile)}, createIfMissing: true });` +
      "process.stdout.write(key.toString('hex'));";
    const run = () =>
      new Promise<string>((resolve, reject) => {
        const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        let err = '';
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
        });
        child.stderr.on('data', (chunk: Buffer) => {
          err += chunk.toString();
        });
        child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}: ${err}`))));
      });
    const keys = await Promise.all(Array.from({ length: 6 }, run));
    assert.equal(new Set(keys).size, 1);
    assert.equal(keys[0], parseEncryptionKey(readFileSync(keyFile, 'utf8')).toString('hex'));
  });

  it('refuses a key file that group or others can read, saying to chmod 600 it', {
    skip: !posix,
  }, async () => {
    const keyFile = freshKeyFile();
    await resolveEncryptionKey({ env: {}, keyFile, createIfMissing: true });
    for (const loose of [0o640, 0o604, 0o660]) {
      chmodSync(keyFile, loose);
      await assert.rejects(
        resolveEncryptionKey({ env: {}, keyFile, createIfMissing: true }),
        (error: CodedError) => {
          assert.equal(error.code, 'CONFIG');
          assert.match(
            error.message,
            new RegExp(`chmod 600 ${keyFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
          );
          return true;
        },
      );
    }
    chmodSync(keyFile, 0o600);
    await resolveEncryptionKey({ env: {}, keyFile });
  });

  it('refuses a key file with a malformed key, naming the file', async () => {
    const keyFile = freshKeyFile();
    await resolveEncryptionKey({ env: {}, keyFile, createIfMissing: true });
    writeFileSync(keyFile, 'not a key\n', { mode: 0o600 });
    await assert.rejects(resolveEncryptionKey({ env: {}, keyFile }), (error: CodedError) => {
      assert.equal(error.code, 'CONFIG');
      assert.ok(error.message.includes(keyFile));
      return true;
    });
  });

  it('says what to do when there is no key and it may not create one', async () => {
    await assert.rejects(resolveEncryptionKey({ env: {}, keyFile: freshKeyFile() }), (error: CodedError) => {
      assert.equal(error.code, 'CONFIG');
      assert.match(error.message, /does not exist; set TOKENKEEPER_KEY/);
      return true;
    });
    await assert.rejects(resolveEncryptionKey({ env: {} }), (error: CodedError) => {
      assert.equal(error.code, 'CONFIG');
      assert.match(error.message, /set TOKENKEEPER_KEY.*openssl rand -base64 32/);
      return true;
    });
  });
});
