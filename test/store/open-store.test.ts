import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import pg from 'pg';
import { encryptionKeyId } from '../../src/store/encryption.js';
import {
  defaultDataDir,
  keyFileFor,
  type OpenedStore,
  openStore,
  parseStoreLocation,
} from '../../src/store/open-store.js';
import { SQLITE_DRIVER_PACKAGE } from '../../src/store/sqlite-driver.js';
import { describeWithServer, PG_URL, probePostgres, probeRedis, REDIS_URL, uniqueName } from './servers.js';

const root = mkdtempSync(join(tmpdir(), 'tokenkeeper-open-'));
after(() => rmSync(root, { recursive: true, force: true }));
const posix = process.platform !== 'win32';

const key = randomBytes(32);
const keyEnv = { TOKENKEEPER_KEY: key.toString('base64') };

async function roundTrip({ store, secretBox }: OpenedStore): Promise<void> {
  const sealed = secretBox.seal('refresh-token', 'acme');
  assert.equal(await store.put('acme', { provider: 'factus' }, sealed, 0), 1);
  const read = await store.get('acme');
  assert.equal(secretBox.open(read!.sealed, 'acme'), 'refresh-token');
}

let counter = 0;
function freshDir(): string {
  counter += 1;
  return join(root, `case-${counter}`);
}

describe('defaultDataDir', () => {
  it('follows XDG on Linux, falling back to ~/.local/share', () => {
    assert.equal(
      defaultDataDir({ platform: 'linux', homedir: '/home/ana', env: { XDG_DATA_HOME: '/data' } }),
      '/data/tokenkeeper',
    );
    assert.equal(
      defaultDataDir({ platform: 'linux', homedir: '/home/ana', env: {} }),
      '/home/ana/.local/share/tokenkeeper',
    );
    // A relative XDG_DATA_HOME is invalid by the spec and ignored.
    assert.equal(
      defaultDataDir({ platform: 'freebsd', homedir: '/home/ana', env: { XDG_DATA_HOME: 'data' } }),
      '/home/ana/.local/share/tokenkeeper',
    );
  });

  it('uses Application Support on macOS and LOCALAPPDATA on Windows', () => {
    assert.equal(
      defaultDataDir({ platform: 'darwin', homedir: '/Users/ana', env: { XDG_DATA_HOME: '/data' } }),
      '/Users/ana/Library/Application Support/tokenkeeper',
    );
    assert.equal(
      defaultDataDir({
        platform: 'win32',
        homedir: 'C:\\Users\\ana',
        env: { LOCALAPPDATA: 'C:\\Users\\ana\\AppData\\Local' },
      }),
      'C:\\Users\\ana\\AppData\\Local\\tokenkeeper',
    );
    assert.equal(
      defaultDataDir({ platform: 'win32', homedir: 'C:\\Users\\ana', env: {} }),
      'C:\\Users\\ana\\AppData\\Local\\tokenkeeper',
    );
  });
});

describe('parseStoreLocation', () => {
  const cwd = '/work/project';

  it('reads each location form', () => {
    assert.deepEqual(parseStoreLocation('memory:'), { kind: 'memory' });
    assert.deepEqual(parseStoreLocation(' MEMORY: '), { kind: 'memory' });
    assert.deepEqual(parseStoreLocation(undefined, { dataDir: '/d' }), {
      kind: 'sqlite',
      path: '/d/tokenkeeper.db',
      keyFile: '/d/tokenkeeper.key',
    });
    assert.deepEqual(
      parseStoreLocation('', { dataDir: '/d' }),
      parseStoreLocation(undefined, { dataDir: '/d' }),
    );
    const sqliteAt = (path: string) => ({ kind: 'sqlite', path, keyFile: keyFileFor(path) });
    assert.deepEqual(parseStoreLocation('data/keep.db', { cwd }), sqliteAt('/work/project/data/keep.db'));
    assert.deepEqual(parseStoreLocation('/abs/keep.sqlite', { cwd }), sqliteAt('/abs/keep.sqlite'));
    assert.deepEqual(
      parseStoreLocation('sqlite:data/keep.db', { cwd }),
      sqliteAt('/work/project/data/keep.db'),
    );
    assert.deepEqual(parseStoreLocation('sqlite:///abs/keep.db', { cwd }), sqliteAt('/abs/keep.db'));
    assert.deepEqual(parseStoreLocation('file:keep.db', { cwd }), sqliteAt('/work/project/keep.db'));
    assert.deepEqual(parseStoreLocation('file:///abs/my%20keep.db', { cwd }), sqliteAt('/abs/my keep.db'));
    assert.deepEqual(parseStoreLocation('./data/', { cwd }), sqliteAt('/work/project/data/tokenkeeper.db'));
    assert.deepEqual(parseStoreLocation('~/keep.db', { cwd }), sqliteAt(join(homedir(), 'keep.db')));
    assert.equal(parseStoreLocation('C:/data/keep.db', { cwd }).kind, 'sqlite');
    assert.deepEqual(parseStoreLocation('postgres://u:p@db:5432/app?schema=tk&sslmode=require'), {
      kind: 'postgres',
      url: 'postgres://u:p@db:5432/app?sslmode=require',
      schema: 'tk',
    });
    assert.deepEqual(parseStoreLocation('postgresql://db/app'), {
      kind: 'postgres',
      url: 'postgresql://db/app',
    });
    assert.deepEqual(parseStoreLocation('redis://:p@cache:6379/2?prefix=team:'), {
      kind: 'redis',
      url: 'redis://:p@cache:6379/2',
      keyPrefix: 'team:',
    });
    assert.deepEqual(parseStoreLocation('rediss://cache'), { kind: 'redis', url: 'rediss://cache' });
  });

  it('uses an existing directory as the place for tokenkeeper.db', () => {
    const dir = freshDir();
    mkdirSync(dir);
    assert.deepEqual(parseStoreLocation(dir), {
      kind: 'sqlite',
      path: join(dir, 'tokenkeeper.db'),
      keyFile: join(dir, 'tokenkeeper.key'),
    });
  });

  it('puts the key file beside the database, named after it', () => {
    assert.equal(keyFileFor('/d/tokenkeeper.db'), '/d/tokenkeeper.key');
    assert.equal(keyFileFor('/d/team.sqlite3'), '/d/team.key');
    assert.equal(keyFileFor('/d/team'), '/d/team.key');
  });

  it('refuses unknown schemes and unparseable URLs without echoing a password', () => {
    assert.throws(
      () => parseStoreLocation('mysql://db/app'),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, 'CONFIG');
        assert.match(error.message, /Unknown store location scheme "mysql:"/);
        return true;
      },
    );
    assert.throws(
      () => parseStoreLocation('postgres://u:hunter2@[bad'),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, 'CONFIG');
        assert.doesNotMatch(error.message, /hunter2/);
        return true;
      },
    );
  });
});

describe('openStore', () => {
  it('opens SQLite in the data directory by default, creating a 0600 key file beside it', async () => {
    const dataDir = join(freshDir(), 'data');
    const opened = await openStore(undefined, { dataDir, env: {} });
    try {
      assert.equal(opened.store.kind, 'sqlite');
      assert.equal(opened.store.location, join(dataDir, 'tokenkeeper.db'));
      await roundTrip(opened);
      if (posix) {
        assert.equal(statSync(join(dataDir, 'tokenkeeper.key')).mode & 0o777, 0o600);
        assert.equal(statSync(dataDir).mode & 0o777, 0o700);
      }
    } finally {
      await opened.store.close();
    }
    // Reopened, the same key file opens what was sealed before.
    const again = await openStore(undefined, { dataDir, env: {} });
    try {
      const read = await again.store.get('acme');
      assert.equal(again.secretBox.open(read!.sealed, 'acme'), 'refresh-token');
    } finally {
      await again.store.close();
    }
    // With another TOKENKEEPER_KEY the secrets do not open, and the message says why.
    const wrong = await openStore(undefined, {
      dataDir,
      env: { TOKENKEEPER_KEY: randomBytes(32).toString('hex') },
    });
    try {
      const read = await wrong.store.get('acme');
      assert.throws(() => wrong.secretBox.open(read!.sealed, 'acme'), { code: 'STORE_KEY' });
    } finally {
      await wrong.store.close();
    }
  });

  it('finds the default data directory through XDG_DATA_HOME on Linux', {
    skip: process.platform !== 'linux',
  }, async () => {
    const xdg = freshDir();
    const opened = await openStore(undefined, { env: { XDG_DATA_HOME: xdg } });
    try {
      assert.equal(opened.store.location, join(xdg, 'tokenkeeper', 'tokenkeeper.db'));
      assert.ok(existsSync(join(xdg, 'tokenkeeper', 'tokenkeeper.key')));
    } finally {
      await opened.store.close();
    }
  });

  it('opens SQLite at a path, sqlite: or file: location, key file beside it', async () => {
    for (const form of ['plain', 'sqlite', 'file'] as const) {
      const dir = freshDir();
      const path = join(dir, 'team.db');
      const location = form === 'plain' ? path : form === 'sqlite' ? `sqlite:${path}` : `file://${path}`;
      const opened = await openStore(location, { env: {} });
      try {
        assert.equal(opened.store.kind, 'sqlite');
        assert.equal(opened.store.location, path);
        assert.ok(existsSync(join(dir, 'team.key')), `${form}: key file beside the database`);
        await roundTrip(opened);
      } finally {
        await opened.store.close();
      }
    }
  });

  it('uses TOKENKEEPER_KEY for SQLite when set, writing no key file', async () => {
    const dir = freshDir();
    const opened = await openStore(join(dir, 'k.db'), { env: keyEnv });
    try {
      assert.equal(opened.secretBox.keyId, encryptionKeyId(key));
      assert.equal(existsSync(join(dir, 'k.key')), false);
    } finally {
      await opened.store.close();
    }
  });

  it('takes a given key over TOKENKEEPER_KEY and the key file, which it neither reads, writes nor creates', async () => {
    const dir = freshDir();
    const path = join(dir, 'k.db');
    const given = randomBytes(32);
    const previous = randomBytes(32);
    const opened = await openStore(path, {
      env: keyEnv,
      encryptionKey: given.toString('hex'),
      previousEncryptionKeys: [previous],
    });
    try {
      assert.equal(opened.secretBox.keyId, encryptionKeyId(given));
      assert.deepEqual(opened.secretBox.keyIds, [encryptionKeyId(given), encryptionKeyId(previous)]);
      assert.equal(existsSync(join(dir, 'k.key')), false);
    } finally {
      await opened.store.close();
    }
    // A key file that holds another key is left as it is; rows name the key they were sealed with.
    const fromFile = await openStore(path, { env: {} });
    const keyFileText = readFileSync(join(dir, 'k.key'), 'utf8');
    await fromFile.store.close();
    const again = await openStore(path, { env: {}, encryptionKey: given });
    try {
      assert.equal(again.secretBox.keyId, encryptionKeyId(given));
      assert.notEqual(fromFile.secretBox.keyId, again.secretBox.keyId);
      assert.equal(readFileSync(join(dir, 'k.key'), 'utf8'), keyFileText);
    } finally {
      await again.store.close();
    }
  });

  it('refuses a malformed key option before creating any file, naming the option', async () => {
    const dir = freshDir();
    await assert.rejects(openStore(join(dir, 'k.db'), { env: keyEnv, encryptionKey: 'short' }), {
      code: 'CONFIG',
      message: /^encryptionKey is not a valid encryption key/,
    });
    await assert.rejects(
      openStore(join(dir, 'k.db'), { env: keyEnv, previousEncryptionKeys: [Buffer.alloc(31)] }),
      { code: 'CONFIG', message: /^previousEncryptionKeys\[0\] must be 32 bytes/ },
    );
    assert.equal(existsSync(dir), false);
  });

  it('refuses a malformed TOKENKEEPER_KEY before creating any file', async () => {
    const dir = freshDir();
    await assert.rejects(openStore(join(dir, 'k.db'), { env: { TOKENKEEPER_KEY: 'short' } }), {
      code: 'CONFIG',
    });
    assert.equal(existsSync(dir), false);
  });

  it('opens memory: with a random key, or TOKENKEEPER_KEY when set', async () => {
    const one = await openStore('memory:', { env: {} });
    const two = await openStore('memory:', { env: {} });
    const keyed = await openStore('memory:', { env: keyEnv });
    try {
      assert.equal(one.store.kind, 'memory');
      assert.notEqual(one.secretBox.keyId, two.secretBox.keyId);
      assert.equal(keyed.secretBox.keyId, encryptionKeyId(key));
      await roundTrip(one);
    } finally {
      await Promise.all([one.store.close(), two.store.close(), keyed.store.close()]);
    }
  });

  it('requires TOKENKEEPER_KEY for PostgreSQL and Redis, before connecting anywhere', async () => {
    for (const [location, what] of [
      ['postgres://u:hunter2@127.0.0.1:1/app', 'PostgreSQL'],
      ['postgresql://127.0.0.1:1/app', 'PostgreSQL'],
      ['redis://:hunter2@127.0.0.1:1', 'Redis'],
      ['rediss://127.0.0.1:1', 'Redis'],
    ] as const) {
      await assert.rejects(openStore(location, { env: {} }), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'CONFIG');
        assert.match(error.message, new RegExp(`A ${what} store is shared by several hosts`));
        assert.match(error.message, /set TOKENKEEPER_KEY to the same 32-byte key on every host/);
        assert.doesNotMatch(error.message, /hunter2/);
        return true;
      });
    }
  });

  it('loads only the driver of the backend it opens', () => {
    const moduleUrl = new URL('../../src/store/index.js', import.meta.url).href;
    const script = `
      import { createRequire } from 'node:module';
      const { openStore } = await import(${JSON.stringify(moduleUrl)});
      const loaded = () => Object.keys(createRequire(import.meta.url).cache)
        .filter((p) => /node_modules[\\\\/](better-sqlite3(?:-napi)?|pg|ioredis)[\\\\/]/.test(p))
        .map((p) => p.match(/node_modules[\\\\/](better-sqlite3(?:-napi)?|pg|ioredis)[\\\\/]/)[1]);
      const { store } = await openStore('memory:', { env: {} });
      const afterMemory = [...new Set(loaded())];
      await store.close();
      const sqlite = await openStore(process.argv[1], { env: {} });
      const afterSqlite = [...new Set(loaded())];
      await sqlite.store.close();
      console.log(JSON.stringify({ afterMemory, afterSqlite }));
    `;
    const result = spawnSync(
      process.execPath,
      ['--input-type=module', '-e', script, join(freshDir(), 'lazy.db')],
      { encoding: 'utf8' },
    );
    assert.equal(result.status, 0, result.stderr);
    const { afterMemory, afterSqlite } = JSON.parse(result.stdout) as {
      afterMemory: string[];
      afterSqlite: string[];
    };
    assert.deepEqual(afterMemory, []);
    assert.deepEqual(afterSqlite, [SQLITE_DRIVER_PACKAGE]);
  });
});

const [pgProblem, redisProblem] = await Promise.all([probePostgres(), probeRedis()]);

describeWithServer('openStore with PostgreSQL', 'PostgreSQL', PG_URL, pgProblem, () => {
  const schema = uniqueName('tk_open');
  after(async () => {
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  });

  it('opens postgres:// with the schema from the URL', async () => {
    const url = new URL(PG_URL);
    url.searchParams.set('schema', schema);
    const opened = await openStore(url.toString(), { env: keyEnv });
    try {
      assert.equal(opened.store.kind, 'postgres');
      assert.equal(opened.secretBox.keyId, encryptionKeyId(key));
      assert.doesNotMatch(opened.store.location, /schema=/);
      await roundTrip(opened);
    } finally {
      await opened.store.close();
    }
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    try {
      const { rows } = await admin.query(`SELECT name FROM "${schema}".tokenkeeper_connections`);
      assert.deepEqual(rows, [{ name: 'acme' }]);
    } finally {
      await admin.end();
    }
  });
});

describeWithServer('openStore with Redis', 'Redis', REDIS_URL, redisProblem, () => {
  const prefix = `${uniqueName('tkopen')}:`;
  after(async () => {
    const admin = new Redis(REDIS_URL);
    // Test cleanup only; the store itself never uses KEYS. Its keys carry hash tags: `{<prefix>…}:…`.
    const keys = [...(await admin.keys(`${prefix}*`)), ...(await admin.keys(`{${prefix}*`))];
    if (keys.length > 0) await admin.del(...keys);
    await admin.quit();
  });

  it('opens redis:// with the key prefix from the URL', async () => {
    const url = new URL(REDIS_URL);
    url.searchParams.set('prefix', prefix);
    const opened = await openStore(url.toString(), { env: keyEnv });
    try {
      assert.equal(opened.store.kind, 'redis');
      assert.doesNotMatch(opened.store.location, /prefix=/);
      await roundTrip(opened);
    } finally {
      await opened.store.close();
    }
    const admin = new Redis(REDIS_URL);
    try {
      assert.deepEqual(await admin.smembers(`{${prefix}}:names`), ['acme']);
    } finally {
      await admin.quit();
    }
  });
});
