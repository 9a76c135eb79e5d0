/**
 * An error that no rule words (a bug, or a library failing in a way nobody foresaw): the CLI
 * says it was unexpected, shows where only when TOKENKEEPER_DEBUG asks, and says how to get
 * source locations out of the minified CLI file.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type CliSandbox, createCliSandbox } from '../helpers/cli.js';

describe('CLI: an unexpected error', () => {
  let sandbox: CliSandbox;
  let trap: string;
  before(async () => {
    sandbox = await createCliSandbox();
    // Preloaded into the CLI: the first thing a command prints throws a plain Error (the CLI writes
    // its output with fs.writeSync where stdout is a pipe, and through process.stdout elsewhere).
    trap = join(sandbox.home, 'throw-on-print.cjs');
    await writeFile(
      trap,
      'const boom = () => { throw new Error("boom (injected)"); };\n' +
        'require("node:fs").writeSync = boom;\nprocess.stdout.write = boom;\n',
      'utf8',
    );
  });
  after(() => sandbox.cleanup());

  it('is named as such, with a hint and no stack trace by default', async () => {
    const result = await sandbox.run(['status'], { env: { NODE_OPTIONS: `--require ${trap}` } });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^Unexpected error: boom \(injected\)$/m);
    assert.match(result.stderr, /Set TOKENKEEPER_DEBUG=1 to see where it happened\./);
    assert.doesNotMatch(result.stderr, /^\s+at /m);
  });

  it('shows the stack with TOKENKEEPER_DEBUG, and how to map it to the sources', async () => {
    const result = await sandbox.run(['status'], {
      env: { NODE_OPTIONS: `--require ${trap}`, TOKENKEEPER_DEBUG: '1' },
    });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^\s+at .*cli[/\\]main\.js:\d+:\d+/m, 'frames in the bundle');
    assert.match(result.stderr, /also set NODE_OPTIONS=--enable-source-maps/);

    const mapped = await sandbox.run(['status'], {
      env: { NODE_OPTIONS: `--enable-source-maps --require ${trap}`, TOKENKEEPER_DEBUG: '1' },
    });
    assert.equal(mapped.code, 1);
    assert.match(mapped.stderr, /^\s+at .*src[/\\]cli[/\\]\S+\.ts:\d+:\d+/m, 'frames in the sources');
    assert.doesNotMatch(mapped.stderr, /NODE_OPTIONS/);
  });
});
