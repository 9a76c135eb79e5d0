/**
 * Rotating the encryption key on SQLite, PostgreSQL and Redis (real servers), against the
 * Factus emulator over HTTP: every reader accepts the previous keys, each connection is
 * re-sealed under the current key on its next write, `rekey` re-seals the rest under each
 * connection's lock (and binds the settings of rows sealed before they were), and a
 * connection no key opens is reported and left alone.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import pg from 'pg';
import { ConnectionRepository } from '../../src/connection.js';
import type { FactusRunningEmulator } from '../../src/emulators/factus/factus-emulator.js';
import { startFactusEmulator } from '../../src/emulators/factus/factus-emulator.js';
import type { TokenkeeperError } from '../../src/errors.js';
import { createKeeper, type Keeper, type KeeperOptions } from '../../src/keeper.js';
import { createSecretBox, encryptionKeyId } from '../../src/store/encryption.js';
import { MemoryTokenStore } from '../../src/store/memory-store.js';
import { keyFileFor, openStore } from '../../src/store/open-store.js';
import type { TokenStore } from '../../src/store/types.js';
import { factusSpec } from '../helpers/factus.js';
import { PG_URL, probePostgres, probeRedis, REDIS_URL, uniqueName } from '../store/servers.js';

interface Backend {
  name: string;
  /** A fresh, empty store location for one test. */
  location(): Promise<string>;
  problem?: string;
}

const scratch = await mkdtemp(join(tmpdir(), 'tk-rotation-'));
const schemas: string[] = [];
const prefixes: string[] = [];
let counter = 0;

const backends: Backend[] = [
  { name: 'SQLite', location: async () => join(scratch, `store-${++counter}.db`) },
  {
    name: 'PostgreSQL',
    problem: await probePostgres(),
    location: async () => {
      const schema = uniqueName('tk_rotation');
      schemas.push(schema);
      return `${PG_URL}?schema=${schema}`;
    },
  },
  {
    name: 'Redis',
    problem: await probeRedis(),
    location: async () => {
      const prefix = `${uniqueName('tkrotation')}:`;
      prefixes.push(prefix);
      return `${REDIS_URL}?prefix=${prefix}`;
    },
  },
];

after(async () => {
  await rm(scratch, { recursive: true, force: true });
  if (schemas.length > 0 && !backends[1]!.problem) {
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  }
  if (prefixes.length > 0 && !backends[2]!.problem) {
    const admin = new Redis(REDIS_URL);
    for (const prefix of prefixes) {
      const keys = await admin.keys(`${prefix}*`);
      if (keys.length > 0) await admin.del(...keys);
    }
    await admin.quit();
  }
});

const b64 = (key: Buffer) => key.toString('base64');

describe('encryption keys given as options', () => {
  it('a bad one is refused when the keeper is created, naming the option and not echoing it', () => {
    const short = 'c2hvcnQta2V5';
    for (const [options, named] of [
      [{ store: 'memory:', encryptionKey: short }, /^encryptionKey is not a valid encryption key/],
      [
        { store: 'memory:', encryptionKey: randomBytes(16) },
        /^encryptionKey must be 32 bytes, but the Buffer given holds 16/,
      ],
      [
        { store: new MemoryTokenStore(), encryptionKey: short },
        /^encryptionKey is not a valid encryption key/,
      ],
      [{ encryptionKey: 42 as unknown as string }, /^encryptionKey must be a Buffer of 32 bytes/],
      [
        { store: 'memory:', previousEncryptionKeys: [randomBytes(32), short] },
        /^previousEncryptionKeys\[1\] is not a valid encryption key/,
      ],
      [
        { store: 'memory:', previousEncryptionKeys: short as unknown as string[] },
        /^previousEncryptionKeys must be an array/,
      ],
    ] as Array<[KeeperOptions, RegExp]>) {
      assert.throws(
        () => createKeeper({ ...options, env: { TOKENKEEPER_KEY: b64(randomBytes(32)) } }),
        (error: TokenkeeperError) => {
          assert.equal(error.code, 'CONFIG');
          assert.match(error.message, named);
          assert.doesNotMatch(error.message, /TOKENKEEPER_KEY/);
          assert.equal(error.message.includes(short), false);
          return true;
        },
      );
    }
  });
});

for (const backend of backends) {
  const skip =
    backend.problem && !process.env.CI ? `${backend.name} not reachable: ${backend.problem}` : false;

  describe(`key rotation on ${backend.name}`, { skip }, () => {
    let emulator: FactusRunningEmulator;
    const keepers: Keeper[] = [];
    before(async () => {
      emulator = await startFactusEmulator();
    });
    after(async () => {
      for (const keeper of keepers) await keeper.close();
      await emulator.stop();
    });

    /** A host: a keeper on `location` with these keys in its environment. */
    function host(
      location: string,
      key: Buffer,
      previous: Buffer[] = [],
      options: KeeperOptions = {},
    ): Keeper {
      const env = {
        TOKENKEEPER_KEY: b64(key),
        ...(previous.length > 0 ? { TOKENKEEPER_PREVIOUS_KEYS: previous.map(b64).join(',') } : {}),
      };
      const keeper = createKeeper({ store: location, env, proactiveRefresh: false, ...options });
      keepers.push(keeper);
      return keeper;
    }

    it('readers accept the previous key, a write re-seals under the current one, and rekey does the rest', async () => {
      const location = await backend.location();
      const oldKey = randomBytes(32);
      const newKey = randomBytes(32);
      const before = host(location, oldKey);
      await before.connect('acme', factusSpec(emulator));
      await before.connect('beta', factusSpec(emulator));
      assert.equal((await before.info('acme')).keyId, encryptionKeyId(oldKey));

      // A host that moved to the new key still reads what the old one sealed.
      const moved = host(location, newKey, [oldKey]);
      assert.ok(await moved.getAccessToken('acme'));
      assert.equal((await moved.details('beta')).keyId, encryptionKeyId(oldKey));

      // Its next write (a refresh) seals under the new key.
      await moved.refresh('acme');
      assert.equal((await moved.info('acme')).keyId, encryptionKeyId(newKey));
      await assert.rejects(
        host(location, oldKey).refresh('acme'),
        (error: TokenkeeperError) =>
          error.code === 'STORE_KEY' && error.message.includes('TOKENKEEPER_PREVIOUS_KEYS'),
        'a host still on the old key alone cannot read it: every host needs both keys first',
      );

      const passwordLogins = emulator.stats().tokenRequests.password;
      const result = await moved.rekey();
      assert.deepEqual(result, {
        keyId: encryptionKeyId(newKey),
        resealed: ['beta'],
        alreadyCurrent: ['acme'],
        failed: [],
      });
      assert.deepEqual(await moved.rekey(), { ...result, resealed: [], alreadyCurrent: ['acme', 'beta'] });

      // With the previous key dropped, both still work: the re-sealed refresh token is the live one.
      const after = host(location, newKey);
      for (const name of ['acme', 'beta']) {
        assert.equal((await after.info(name)).keyId, encryptionKeyId(newKey));
        await after.refresh(name);
      }
      assert.equal(emulator.stats().tokenRequests.password, passwordLogins, 'no refresh token was lost');
    });

    it('binds a connection sealed before its settings were, though its key is current', async () => {
      const location = await backend.location();
      const key = randomBytes(32);
      await host(location, key).connect('acme', factusSpec(emulator));
      await host(location, key).connect('beta', factusSpec(emulator));
      const { store } = await openStore(location, { env: { TOKENKEEPER_KEY: b64(key) } });
      try {
        await unbind(store, key, 'acme');
        assert.ok(await host(location, key).getAccessToken('acme'), 'an unbound row still opens');

        const result = await host(location, key).rekey();
        assert.deepEqual(result, {
          keyId: encryptionKeyId(key),
          resealed: ['acme'],
          alreadyCurrent: ['beta'],
          failed: [],
        });
        assert.deepEqual((await host(location, key).rekey()).alreadyCurrent, ['acme', 'beta']);

        // Bound now: its clear settings can no longer be changed unseen.
        const row = (await store.get('acme'))!;
        const elsewhere = { ...row.meta, tokenUrl: 'https://elsewhere.example/oauth/token' };
        assert.ok(await store.put('acme', elsewhere, row.sealed, row.version));
        await assert.rejects(
          host(location, key).refresh('acme'),
          (error: TokenkeeperError) => error.code === 'STORE_TAMPERED' && /tokenUrl/.test(error.message),
        );
      } finally {
        await store.close();
      }
    });

    it('uses encryptionKey and previousEncryptionKeys given with a location string, over the environment', async () => {
      const location = await backend.location();
      const [oldKey, newKey, envKey] = [randomBytes(32), randomBytes(32), randomBytes(32)];
      const keeper = (options: KeeperOptions, env: NodeJS.ProcessEnv) => {
        const made = createKeeper({ store: location, env, proactiveRefresh: false, ...options });
        keepers.push(made);
        return made;
      };
      // No TOKENKEEPER_KEY at all: the key given is the store's key, remote stores included.
      const first = keeper({ encryptionKey: oldKey }, {});
      await first.connect('acme', factusSpec(emulator));
      assert.equal((await first.info('acme')).keyId, encryptionKeyId(oldKey));
      assert.equal(await first.keyId(), encryptionKeyId(oldKey));
      if (backend.name === 'SQLite') {
        assert.equal(existsSync(keyFileFor(location)), false, 'no key file beside the database');
      }

      // Given keys win over TOKENKEEPER_KEY and TOKENKEEPER_PREVIOUS_KEYS.
      const env = { TOKENKEEPER_KEY: b64(envKey), TOKENKEEPER_PREVIOUS_KEYS: b64(randomBytes(32)) };
      const moved = keeper({ encryptionKey: b64(newKey), previousEncryptionKeys: [b64(oldKey)] }, env);
      assert.ok(await moved.getAccessToken('acme'));
      assert.deepEqual((await moved.rekey()).resealed, ['acme']);
      assert.equal((await moved.info('acme')).keyId, encryptionKeyId(newKey));
      await assert.rejects(
        keeper({}, env).getAccessToken('acme'),
        (error: TokenkeeperError) => error.code === 'STORE_KEY',
        'the key in the environment alone opens nothing the given key sealed',
      );
    });

    it('reports a connection no key opens, leaves it untouched, and re-seals the others', async () => {
      const location = await backend.location();
      const [lostKey, oldKey, newKey] = [randomBytes(32), randomBytes(32), randomBytes(32)];
      await host(location, lostKey).connect('lost', factusSpec(emulator));
      await host(location, oldKey).connect('kept', factusSpec(emulator));
      const rotating = host(location, newKey, [oldKey]);
      const { store } = await openStore(location, { env: { TOKENKEEPER_KEY: b64(newKey) } });
      try {
        const untouched = await store.get('lost');
        const result = await rotating.rekey();
        assert.deepEqual(result.resealed, ['kept']);
        assert.deepEqual(result.alreadyCurrent, []);
        assert.equal(result.failed.length, 1);
        const [failure] = result.failed;
        assert.equal(failure!.name, 'lost');
        assert.equal(failure!.code, 'STORE_KEY');
        assert.equal(failure!.keyId, encryptionKeyId(lostKey));
        assert.match(failure!.message, /TOKENKEEPER_PREVIOUS_KEYS/);
        assert.deepEqual(await store.get('lost'), untouched);
      } finally {
        await store.close();
      }
    });

    it('a refresh that holds the lock when rekey arrives is re-sealed with its rotated refresh token', async () => {
      const location = await backend.location();
      const oldKey = randomBytes(32);
      const newKey = randomBytes(32);
      await host(location, oldKey).connect('acme', factusSpec(emulator));
      const { store } = await openStore(location, { env: { TOKENKEEPER_KEY: b64(newKey) } });
      const refresher = new ConnectionRepository(store, createSecretBox(oldKey));
      const owner = 'a-refresh-on-another-host';
      try {
        // The other host's refresh holds the lock; when rekey first finds the lock taken,
        // that refresh saves its rotated refresh token (sealed under the old key) and lets go.
        assert.equal(await store.tryLock('acme', owner, 60_000), true);
        let refreshSaved = false;
        const watched = withTryLockHook(store, async () => {
          if (refreshSaved) return;
          refreshSaved = true;
          const loaded = (await refresher.load('acme'))!;
          loaded.record.secrets.tokens = {
            ...loaded.record.secrets.tokens!,
            refreshToken: 'rotated-by-the-refresh',
          };
          assert.ok(await refresher.save(loaded.record, loaded.version, owner));
          await store.unlock('acme', owner);
        });
        const rotating = createKeeper({
          store: watched,
          encryptionKey: newKey,
          previousEncryptionKeys: [oldKey],
          proactiveRefresh: false,
        });
        keepers.push(rotating);
        assert.deepEqual((await rotating.rekey()).resealed, ['acme']);
        assert.ok(refreshSaved, 'rekey waited for the lock');
        const after = await new ConnectionRepository(store, createSecretBox(newKey)).load('acme');
        assert.equal(after?.keyId, encryptionKeyId(newKey));
        assert.equal(after?.record.secrets.tokens?.refreshToken, 'rotated-by-the-refresh');
      } finally {
        await store.close();
      }
    });

    it('reports a connection whose lock stays taken, and leaves it for the next run', async () => {
      const location = await backend.location();
      const oldKey = randomBytes(32);
      const newKey = randomBytes(32);
      await host(location, oldKey).connect('acme', factusSpec(emulator));
      const { store } = await openStore(location, { env: { TOKENKEEPER_KEY: b64(newKey) } });
      try {
        assert.equal(await store.tryLock('acme', 'a-refresh-that-hangs', 60_000), true);
        const before = await store.get('acme');
        const result = await host(location, newKey, [oldKey], { lockWaitMs: 200 }).rekey();
        assert.deepEqual(result.resealed, []);
        assert.deepEqual(
          result.failed.map(({ name, code, keyId }) => ({ name, code, keyId })),
          [{ name: 'acme', code: 'LOCK_TIMEOUT', keyId: encryptionKeyId(oldKey) }],
        );
        assert.deepEqual(await store.get('acme'), before);
        await store.unlock('acme', 'a-refresh-that-hangs');
        assert.deepEqual((await host(location, newKey, [oldKey]).rekey()).resealed, ['acme']);
      } finally {
        await store.close();
      }
    });
  });
}

/** Seals `name` again as the versions before binding did: the same secrets, no copy of its settings. */
async function unbind(store: TokenStore, key: Buffer, name: string): Promise<void> {
  const row = (await store.get(name))!;
  const box = createSecretBox(key);
  const { $bound: _settings, ...secrets } = JSON.parse(box.open(row.sealed, name)) as Record<string, unknown>;
  assert.ok(await store.put(name, row.meta, box.seal(JSON.stringify(secrets), name), row.version));
}

/** The same store, with `onRefused` run each time tryLock finds the lock held by someone else. */
function withTryLockHook(store: TokenStore, onRefused: () => Promise<void>): TokenStore {
  return new Proxy(store, {
    get(target, property) {
      if (property === 'close') return async () => {}; // the test closes the real store
      if (property === 'tryLock') {
        return async (name: string, owner: string, ttlMs: number) => {
          const taken = await target.tryLock(name, owner, ttlMs);
          if (!taken) await onRefused();
          return taken;
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
