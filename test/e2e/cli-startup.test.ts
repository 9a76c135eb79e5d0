/**
 * What `tokenkeeper token` loads: only what reading a fresh token needs. Node's net and stream
 * modules for stdout and stderr, its readline for stdin, and node:net for an address check were
 * several ms of every start (bench cli-token); the speed itself is the benchmark's to measure,
 * what is loaded is this test's.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FactusRunningEmulator } from '../../src/emulators/factus/factus-emulator.js';
import { type CliSandbox, startFactusCli } from '../helpers/cli.js';

describe('tokenkeeper token at start-up', () => {
  let emulator: FactusRunningEmulator;
  let cli: CliSandbox;
  let recorder: string;
  before(async () => {
    ({ emulator, cli } = await startFactusCli(['acme']));
    // Preloaded into the CLI: at exit, writes the list of Node's modules the process loaded.
    recorder = join(cli.home, 'record-modules.cjs');
    await writeFile(
      recorder,
      'process.on("exit", () => require("node:fs").writeFileSync(process.env.MODULES_FILE, ' +
        'JSON.stringify(process.moduleLoadList)));\n',
    );
  });
  after(async () => {
    await emulator.stop();
    await cli.cleanup();
  });

  async function loadedBy(args: string[], name: string) {
    const modulesFile = join(cli.home, `${name}.json`);
    const result = await cli.run(args, {
      env: { NODE_OPTIONS: `--require ${recorder}`, MODULES_FILE: modulesFile },
    });
    const modules = JSON.parse(await readFile(modulesFile, 'utf8')) as string[];
    return { result, modules };
  }

  it('prints the token and loads no stream for stdout, stderr or stdin, nor node:net', async () => {
    const { result, modules } = await loadedBy(['token', 'acme'], 'token');
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^eyJ[\w-]+\.[\w-]+\.[\w-]+\n$/, 'one JWT and a newline');
    for (const unneeded of ['NativeModule net', 'NativeModule tty', 'NativeModule readline']) {
      assert.ok(!modules.includes(unneeded), `${unneeded} was loaded`);
    }
  });

  it('still makes stderr for a message, and reports through it', async () => {
    const { result, modules } = await loadedBy(['token', 'nosuch'], 'message');
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^There is no connection named "nosuch"\.\nConnections: acme\./);
    assert.ok(modules.includes('NativeModule net'), 'a pipe for stderr is a net socket');
  });
});
