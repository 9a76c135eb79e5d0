/**
 * What `tokenkeeper token` loads: only what reading a fresh token needs. Node's net and stream
 * modules for stdout and stderr, its readline for stdin, node:net for an address check, and
 * better-sqlite3's dozen files on Node 20 (the bundle carries them) were several ms of every
 * start (bench cli-token); the speed itself is the benchmark's to measure, what is loaded is
 * this test's.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FactusRunningEmulator } from '../../src/emulators/factus/factus-emulator.js';
import { type CliSandbox, cliPath, runProcess, startFactusCli } from '../helpers/cli.js';

/** better-sqlite3 12, loaded on Node 20 and 21 (src/store/sqlite-driver.ts). */
const usesDriver12 = Number(process.versions.node.split('.')[0]) < 22;
const INSTALLED_DRIVER_FILE = /node_modules[/\\]better-sqlite3[/\\]lib[/\\]database\.js$/;

describe('tokenkeeper token at start-up', () => {
  let emulator: FactusRunningEmulator;
  let cli: CliSandbox;
  let recorder: string;
  before(async () => {
    ({ emulator, cli } = await startFactusCli(['acme']));
    // Preloaded into the CLI: at exit, writes the lists of Node's modules and of the files the process loaded.
    recorder = join(cli.home, 'record-modules.cjs');
    // It also notes which of the CLI's bundles were read: Node 20 reads the one it runs itself
    // (src/cli/code-cache.ts), later Node through require; both with fs.readFileSync.
    await writeFile(
      recorder,
      String.raw`
        const fs = require('node:fs');
        const { basename } = require('node:path');
        const bundles = [];
        const readFileSync = fs.readFileSync;
        fs.readFileSync = function (file, ...rest) {
          if (/[\\/]cli[\\/](main|quick)\.js$/.test(String(file))) bundles.push(basename(String(file)));
          return readFileSync.call(this, file, ...rest);
        };
        process.on('exit', () => fs.writeFileSync(process.env.MODULES_FILE, JSON.stringify({
          builtin: process.moduleLoadList, files: Object.keys(require.cache), bundles,
        })));
      `,
    );
  });
  after(async () => {
    await emulator.stop();
    await cli.cleanup();
  });

  async function loadedBy(args: string[], name: string, command = cliPath) {
    const modulesFile = join(cli.home, `${name}.json`);
    const result = await runProcess(process.execPath, [command, ...args], {
      ...cli.env,
      NODE_OPTIONS: `--require ${recorder}`,
      MODULES_FILE: modulesFile,
    });
    const {
      builtin: modules,
      files,
      bundles,
    } = JSON.parse(await readFile(modulesFile, 'utf8')) as {
      builtin: string[];
      files: string[];
      bundles: string[];
    };
    return { result, modules, files, bundles };
  }

  it('prints the token and loads no stream for stdout, stderr or stdin, nor node:net', async () => {
    const { result, modules, files } = await loadedBy(['token', 'acme'], 'token');
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^eyJ[\w-]+\.[\w-]+\.[\w-]+\n$/, 'one JWT and a newline');
    for (const unneeded of ['NativeModule net', 'NativeModule tty', 'NativeModule readline']) {
      assert.ok(!modules.includes(unneeded), `${unneeded} was loaded`);
    }
    if (usesDriver12) {
      assert.ok(
        !files.some((file) => INSTALLED_DRIVER_FILE.test(file)),
        'the bundle’s copy of the driver ran',
      );
    }
  });

  it('runs `token` from the bundle of the quick commands, and `status` from the one with every command', async () => {
    const token = await loadedBy(['token', 'acme'], 'quick-bundle');
    assert.equal(token.result.code, 0, token.result.stderr);
    assert.deepEqual(token.bundles, ['quick.js']);
    const status = await loadedBy(['status'], 'main-bundle');
    assert.equal(status.result.code, 0, status.result.stderr);
    assert.deepEqual(status.bundles, ['main.js']);
  });

  it('loads the installed driver’s own JavaScript when it is not the version the bundle carries', {
    skip: usesDriver12 ? false : 'Node 22+ loads better-sqlite3 13, which the bundle does not carry',
  }, async () => {
    // The same CLI as if bundled with another better-sqlite3, beside the real one so that
    // node_modules resolves the same.
    const copy = join(dirname(cliPath), '..', `cli-other-driver-${process.pid}`);
    await mkdir(copy);
    try {
      for (const file of ['tokenkeeper.js', 'package.json']) {
        await copyFile(join(dirname(cliPath), file), join(copy, file));
      }
      // `token` runs the quick bundle (src/cli/bundles.ts).
      const bundle = await readFile(join(dirname(cliPath), 'quick.js'), 'utf8');
      const version = bundle.match(/installedVersion\(\)==="([^"]+)"/)?.[1];
      assert.ok(version, 'the bundle names the driver version it carries');
      await writeFile(
        join(copy, 'quick.js'),
        bundle.replace(`installedVersion()==="${version}"`, 'installedVersion()==="0.0.0-other"'),
      );

      const { result, files } = await loadedBy(
        ['token', 'acme'],
        'other-driver',
        join(copy, 'tokenkeeper.js'),
      );
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /^eyJ/);
      assert.ok(
        files.some((file) => INSTALLED_DRIVER_FILE.test(file)),
        'the installed driver ran',
      );
    } finally {
      await rm(copy, { recursive: true, force: true });
    }
  });

  it('still makes stderr for a message, and reports through it', async () => {
    const { result, modules } = await loadedBy(['token', 'nosuch'], 'message');
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^There is no connection named "nosuch"\.\nConnections: acme\./);
    assert.ok(modules.includes('NativeModule net'), 'a pipe for stderr is a net socket');
  });
});
