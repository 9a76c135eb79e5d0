/**
 * The `tokenkeeper` command keeps the compiled code of its CLI bundle between runs only in a
 * folder of the user's own that nobody else can write to (src/cli/compile-cache.ts): Node's
 * compile cache on Node 22.1+, and its own V8 code cache on Node 20 (src/cli/code-cache.ts),
 * used only for the very file it was made from.
 */
import assert from 'node:assert/strict';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import nodeModule from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { bundleFor, commandOf } from '../../src/cli/bundles.js';
import { cacheFileName } from '../../src/cli/code-cache.js';
import { defaultCacheDir, enablePrivateCompileCache } from '../../src/cli/compile-cache.js';
import { startFactusEmulator } from '../../src/emulators/factus/factus-emulator.js';
import { cliPath, createCliSandbox, factusEnv, runProcess } from '../helpers/cli.js';

const CODE_CACHE_MODULE = fileURLToPath(new URL('../../src/cli/code-cache.js', import.meta.url));
const CLI_BUNDLE = join(dirname(cliPath), 'main.js');
const QUICK_BUNDLE = join(dirname(cliPath), 'quick.js');

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

  it(`the command runs through it${nodeHasCompileCache ? ' (Node’s own cache)' : ' (its own V8 code cache)'} and fills it`, async () => {
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
      const kept = readdirSync(folder, { recursive: true, withFileTypes: true }).filter((entry) =>
        entry.isFile(),
      );
      if (nodeHasCompileCache) {
        assert.ok(kept.length > 0, 'compiled code was kept for the next run');
      } else {
        assert.deepEqual(
          kept.map((entry) => entry.name),
          [cacheFileName(CLI_BUNDLE)],
        );
        const cache = readFileSync(join(folder, cacheFileName(CLI_BUNDLE)));
        assert.ok(cache.length > 10_000, 'V8 code, not just a header');
        assert.equal(statSync(join(folder, cacheFileName(CLI_BUNDLE))).mode & 0o777, 0o600);
      }
    } finally {
      await sandbox.cleanup();
    }
  });

  it('the CLI bundles hold no import(), which Node 20 loses in cached code', () => {
    for (const bundle of [CLI_BUNDLE, QUICK_BUNDLE])
      assert.doesNotMatch(readFileSync(bundle, 'utf8'), /\bimport\(/);
  });
});

describe('the V8 code cache of Node 20 (code-cache.ts)', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tk-code-cache-'));
  });
  after(() => rm(root, { recursive: true, force: true }));

  /** A CommonJS file that says which word it holds, and a private folder for its cache. */
  function fixture(word: 'one' | 'two') {
    const dir = join(root, `case-${Math.random().toString(36).slice(2)}`);
    const folder = join(dir, 'cache');
    mkdirSync(folder, { recursive: true, mode: 0o700 });
    const file = join(dir, 'fixture.cjs');
    writeFixture(file, word);
    return { file, folder, cache: join(folder, cacheFileName(file)) };
  }

  function writeFixture(file: string, word: string): void {
    writeFileSync(
      file,
      '#!/usr/bin/env node\n' +
        `module.exports.word = '${word}';\n` +
        'const { basename } = require("node:path");\n' +
        'process.stdout.write([module.exports.word, basename(__filename), basename(__dirname)].join(" ") + "\\n");\n',
    );
  }

  /** Runs `file` through runWithCodeCache in a process of its own. */
  function runFixture(file: string, folder: string, env: NodeJS.ProcessEnv = {}) {
    const program =
      `import { runWithCodeCache } from ${JSON.stringify(CODE_CACHE_MODULE)}; ` +
      'runWithCodeCache(process.argv[1], process.argv[2]);';
    return runProcess(process.execPath, ['--input-type=module', '-e', program, file, folder], {
      PATH: process.env.PATH,
      ...env,
    });
  }

  /** runFixture, which must succeed and write nothing on stderr; its output. */
  async function run(file: string, folder: string): Promise<string> {
    const result = await runFixture(file, folder);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, '');
    return result.stdout;
  }

  const versionOf = (file: string) => {
    const stats = statSync(file, { bigint: true });
    return `${stats.ino}:${stats.mtimeNs}`;
  };

  it('runs the file as CommonJS, keeps its code in a file only the user may read, and uses it next time', async () => {
    const { file, folder, cache } = fixture('one');
    const dir = basename(dirname(file));
    assert.equal(await run(file, folder), `one fixture.cjs ${dir}\n`);
    assert.equal(statSync(cache).mode & 0o777, 0o600);
    assert.equal(
      readFileSync(cache, 'latin1').split('\n')[0]?.split(':').length,
      5,
      'a line naming the file',
    );
    const written = versionOf(cache);

    assert.equal(await run(file, folder), `one fixture.cjs ${dir}\n`);
    // Written only when there was none or V8 refused it: the same file means V8 took it.
    assert.equal(versionOf(cache), written, 'the kept code was used, not replaced');
  });

  it('runs a file changed in place to the same length as it is now, never its old code', async () => {
    const { file, folder, cache } = fixture('one');
    assert.match(await run(file, folder), /^one /);
    const before = readFileSync(cache);
    writeFixture(file, 'two'); // V8 alone would take the old code: it checks only the length
    assert.match(await run(file, folder), /^two /);
    assert.notDeepEqual(readFileSync(cache), before, 'a cache made from the new file replaced it');
  });

  it('compiles afresh, and replaces, kept code that V8 refuses', async () => {
    const { file, folder, cache } = fixture('one');
    await run(file, folder);
    const header = readFileSync(cache, 'latin1').split('\n')[0];
    writeFileSync(cache, `${header}\n${'not V8 code '.repeat(100)}`);
    const damaged = readFileSync(cache);

    assert.match(await run(file, folder), /^one /);
    const replaced = readFileSync(cache);
    assert.notDeepEqual(replaced, damaged);
    assert.ok(replaced.toString('latin1').startsWith(`${header}\n`), 'kept again for the same file');
    const written = versionOf(cache);
    await run(file, folder);
    assert.equal(versionOf(cache), written, 'and used the time after');
  });

  it('keeps no code from a run that failed, and keeps the next one that succeeds', async () => {
    const { file, folder, cache } = fixture('one');
    writeFileSync(
      file,
      `${readFileSync(file, 'utf8')}process.exitCode = Number(process.env.FIXTURE_EXIT ?? 0);\n`,
    );
    const failed = await runFixture(file, folder, { FIXTURE_EXIT: '3' });
    assert.equal(failed.code, 3, failed.stderr);
    assert.match(failed.stdout, /^one /);
    assert.equal(existsSync(cache), false, 'nothing kept from the failed run');

    assert.match(await run(file, folder), /^one /);
    assert.ok(existsSync(cache), 'kept from the run that succeeded');
  });

  it('knows the command past a global --store', () => {
    assert.equal(commandOf(['token', 'acme']), 'token');
    assert.equal(commandOf(['--store', '/x.db', 'exec', 'acme', '--', 'env']), 'exec');
    assert.equal(commandOf(['--store=/x.db', 'env']), 'env');
    assert.equal(commandOf(['help', 'token']), 'help');
    assert.equal(commandOf(['--version']), undefined);
    assert.equal(commandOf(['--store', '/x.db']), undefined);
    assert.equal(commandOf([]), undefined);
  });

  it('runs the commands that hand a credential over from the quick bundle, every other from the main one', () => {
    assert.equal(bundleFor(['token', 'acme']), 'quick.js');
    assert.equal(bundleFor(['--store', '/x.db', 'exec', 'acme', '--', 'env']), 'quick.js');
    assert.equal(bundleFor(['--store=/x.db', 'env']), 'quick.js');
    for (const argv of [
      ['status'],
      ['help', 'token'],
      ['login', 'token'],
      ['--version'],
      ['--store', '/x.db'],
      [],
    ]) {
      assert.equal(bundleFor(argv), 'main.js', argv.join(' '));
    }
  });

  it('keeps the code `token` compiles apart from the code a login compiles', {
    skip: nodeHasCompileCache ? 'this Node keeps its own compile cache' : false,
  }, async () => {
    const emulator = await startFactusEmulator();
    const sandbox = await createCliSandbox(factusEnv(emulator));
    try {
      const folder = join(sandbox.home, '.cache', 'tokenkeeper', 'node-compile-cache');
      const mainCache = join(folder, cacheFileName(CLI_BUNDLE));
      const quickCache = join(folder, cacheFileName(QUICK_BUNDLE));
      const login = await sandbox.run(['login', 'acme', '--provider', 'factus', '--base-url', emulator.url]);
      assert.equal(login.code, 0, login.stderr);
      assert.equal(existsSync(quickCache), false, 'a login runs the main bundle');
      const byLogin = versionOf(mainCache);

      const token = await sandbox.run(['--store', sandbox.storePath, 'token', 'acme']);
      assert.equal(token.code, 0, token.stderr);
      assert.ok(
        readFileSync(quickCache).length < readFileSync(mainCache).length,
        'less code than the login compiled',
      );
      assert.equal(versionOf(mainCache), byLogin, 'the login’s cache is left as it was');
      const byToken = versionOf(quickCache);
      assert.equal((await sandbox.run(['status'])).code, 0);
      assert.equal((await sandbox.run(['token', 'acme'])).code, 0);
      assert.equal(versionOf(quickCache), byToken, 'and used the time after');
    } finally {
      await sandbox.cleanup();
      await emulator.stop();
    }
  });
});
