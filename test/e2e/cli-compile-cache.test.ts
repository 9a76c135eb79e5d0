/**
 * The `tokenkeeper` command keeps Node's compile cache (Node 22.1+) only in a folder of the
 * user's own that nobody else can write to (src/cli/compile-cache.ts).
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import nodeModule from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { defaultCacheDir, enablePrivateCompileCache } from '../../src/cli/compile-cache.js';
import { cliPath, createCliSandbox } from '../helpers/cli.js';

const nodeHasCompileCache =
  typeof (nodeModule as { enableCompileCache?: unknown }).enableCompileCache === 'function';

describe('the compile cache of the tokenkeeper command', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tk-compile-cache-'));
  });
  after(() => rm(root, { recursive: true, force: true }));

  /** A fresh XDG_CACHE_HOME, and what enable() was called with. */
  function attempt(env: NodeJS.ProcessEnv = {}, prepare?: (cacheHome: string) => void) {
    const cacheHome = join(root, `home-${Math.random().toString(36).slice(2)}`);
    mkdirSync(cacheHome);
    prepare?.(cacheHome);
    const enabled: string[] = [];
    const folder = enablePrivateCompileCache({
      env: { XDG_CACHE_HOME: cacheHome, ...env },
      platform: 'linux',
      enable: (directory) => enabled.push(directory),
    });
    return { cacheHome, folder, enabled };
  }

  it('is kept in tokenkeeper’s cache folder, made for the user alone', () => {
    const { cacheHome, folder, enabled } = attempt();
    const expected = join(cacheHome, 'tokenkeeper', 'node-compile-cache');
    assert.equal(folder, expected);
    assert.deepEqual(enabled, [expected]);
    assert.equal(statSync(expected).mode & 0o777, 0o700);
    assert.equal(statSync(join(cacheHome, 'tokenkeeper')).mode & 0o777, 0o700);
  });

  it('stays off in a folder others may write to, behind a link, or where a file is in the way', () => {
    const shared = attempt({}, (home) => {
      mkdirSync(join(home, 'tokenkeeper'));
      chmodSync(join(home, 'tokenkeeper'), 0o777);
    });
    assert.equal(shared.folder, undefined);
    assert.deepEqual(shared.enabled, []);

    const linked = attempt({}, (home) => {
      const elsewhere = join(home, 'elsewhere');
      mkdirSync(elsewhere, { mode: 0o700 });
      symlinkSync(elsewhere, join(home, 'tokenkeeper'));
    });
    assert.equal(linked.folder, undefined);
    assert.deepEqual(linked.enabled, []);

    const blocked = attempt({}, (home) => writeFileSync(join(home, 'tokenkeeper'), 'not a folder'));
    assert.equal(blocked.folder, undefined);
    assert.deepEqual(blocked.enabled, []);
  });

  it('stays off, and the command runs, for a user without a home directory', () => {
    const enabled: string[] = [];
    const options = {
      env: {},
      enable: (directory: string) => enabled.push(directory),
      // What os.homedir() does with neither HOME nor an entry in the user database.
      get home(): string {
        throw Object.assign(new Error('no home directory'), { code: 'ENOENT' });
      },
    };
    assert.equal(enablePrivateCompileCache(options), undefined);
    assert.deepEqual(enabled, []);
  });

  it('obeys NODE_DISABLE_COMPILE_CACHE and NODE_COMPILE_CACHE, and does nothing where Node has no cache', () => {
    for (const env of [{ NODE_DISABLE_COMPILE_CACHE: '1' }, { NODE_COMPILE_CACHE: join(root, 'own') }]) {
      const { cacheHome, folder, enabled } = attempt(env);
      assert.equal(folder, undefined);
      assert.deepEqual(enabled, []);
      assert.equal(existsSync(join(cacheHome, 'tokenkeeper')), false, 'no folder made');
    }
    const cacheHome = join(root, 'node20');
    const folder = enablePrivateCompileCache({ env: { XDG_CACHE_HOME: cacheHome }, enable: undefined });
    assert.equal(folder, undefined);
    assert.equal(existsSync(cacheHome), false);
  });

  it('is found where each platform keeps caches', () => {
    assert.equal(defaultCacheDir({ XDG_CACHE_HOME: '/x/cache' }, 'linux', '/home/u'), '/x/cache/tokenkeeper');
    assert.equal(
      defaultCacheDir({ XDG_CACHE_HOME: 'relative' }, 'linux', '/home/u'),
      '/home/u/.cache/tokenkeeper',
    );
    assert.equal(defaultCacheDir({}, 'darwin', '/Users/u'), '/Users/u/Library/Caches/tokenkeeper');
    assert.equal(
      defaultCacheDir({ LOCALAPPDATA: 'C:\\Users\\u\\AppData\\Local' }, 'win32', 'C:\\Users\\u'),
      'C:\\Users\\u\\AppData\\Local\\tokenkeeper\\Cache',
    );
  });

  it(`the command runs through it${nodeHasCompileCache ? ' and fills it' : ' (this Node has none: no folder is made)'}`, async () => {
    assert.match(cliPath, /tokenkeeper\.js$/, 'the tests run the command users run');
    const sandbox = await createCliSandbox();
    try {
      const version = await sandbox.run(['--version']);
      assert.equal(version.code, 0, version.stderr);
      assert.match(version.stdout, /^\d+\.\d+\.\d+/);
      const unknown = await sandbox.run(['nosuch']);
      assert.equal(unknown.code, 2);
      assert.match(unknown.stderr, /Unknown command "nosuch"/);

      const folder = join(sandbox.home, '.cache', 'tokenkeeper', 'node-compile-cache');
      if (!nodeHasCompileCache) {
        assert.equal(existsSync(folder), false);
        return;
      }
      const kept = readdirSync(folder, { recursive: true, withFileTypes: true }).filter((entry) =>
        entry.isFile(),
      );
      assert.ok(kept.length > 0, 'compiled code was kept for the next run');
    } finally {
      await sandbox.cleanup();
    }
  });
});
