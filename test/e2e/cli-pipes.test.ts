/**
 * The reader of the output goes away (`| head`, `| true`): the CLI stops writing and exits as
 * a program stopped by SIGPIPE (141), with no stack trace, whatever the command.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import {
  type FactorialRunningEmulator,
  startFactorialEmulator,
} from '../../src/emulators/factorial/factorial-emulator.js';
import {
  type CliSandbox,
  cliPath,
  createCliSandbox,
  factorialApiKeyLoginArgs,
  runProcess,
} from '../helpers/cli.js';

/** Larger than a pipe's buffer (64 KiB on Linux), so the writer meets the closed pipe. */
const PIPE_BUFFER = 64 * 1024;

describe('the CLI when the reader of its output goes away', () => {
  let factorial: FactorialRunningEmulator;
  let cli: CliSandbox;

  before(async () => {
    factorial = await startFactorialEmulator();
    cli = await createCliSandbox({ FACTORIAL_API_KEY: factorial.credentials.apiKey });
    const login = await cli.run(factorialApiKeyLoginArgs('hr-key', factorial));
    assert.equal(login.code, 0, login.stderr);
  });
  after(async () => {
    await factorial.stop();
    await cli.cleanup();
  });

  /** `command | reader` in bash: what the reader got, tokenkeeper's stderr and its exit status. */
  async function pipeline(command: string, reader: string) {
    // Not spawnSync: the emulator answering the CLI runs in this process.
    const { stdout, stderr } = await runProcess(
      'bash',
      ['-c', `${command} | ${reader}; echo "status=\${PIPESTATUS[0]}"`],
      await cli.pathEnv(),
    );
    const [, status] = stdout.match(/status=(\d+)\n$/) ?? [];
    return { read: stdout.replace(/status=\d+\n$/, ''), stderr, status: Number(status) };
  }

  for (const [what, command] of [
    ['a large response', 'tokenkeeper request hr-key GET /api/v1/employees'],
    ['every page', 'tokenkeeper request hr-key GET /api/v1/employees --paginate'],
  ] as const) {
    it(`| head -c 10 on ${what}: exit 141, no stack trace`, async () => {
      const whole = await cli.shell(command);
      assert.equal(whole.code, 0, whole.stderr);
      assert.ok(whole.stdout.length > PIPE_BUFFER, 'the output must not fit in the pipe');
      const cut = await pipeline(command, 'head -c 10');
      assert.equal(cut.read, whole.stdout.slice(0, 10));
      assert.equal(cut.stderr, '', 'nothing on stderr: no stack trace, no message');
      assert.equal(cut.status, 141);
    });
  }

  it('a reader gone before anything was written: exit 141, no stack trace', async () => {
    for (const args of [
      ['status', '--json'],
      ['request', 'hr-key', 'GET', '/api/v1/employees?limit=1'],
      ['completion', 'bash'],
    ]) {
      const child = spawn(process.execPath, [cliPath, ...args], { env: cli.env, stdio: 'pipe' });
      child.stdout.destroy(); // like `| true`: the read end is closed before the CLI writes
      let stderr = '';
      child.stderr.on('data', (chunk) => {
        stderr += chunk;
      });
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      assert.equal(stderr, '', `${args.join(' ')}: nothing on stderr`);
      assert.equal(code, 141, args.join(' '));
    }
  });

  it('a reader of stderr gone before a message: exit 141, no crash', async () => {
    const child = spawn(process.execPath, [cliPath, 'token', 'no-such-connection'], {
      env: cli.env,
      stdio: 'pipe',
    });
    child.stderr.destroy(); // like `2>&1 | true`
    let stdout = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(stdout, '');
    assert.equal(code, 141);
  });

  it('output that cannot be written for another reason: said on stderr, exit 1', async () => {
    const full = await cli.shell('tokenkeeper completion bash > /dev/full');
    assert.equal(full.stderr, 'Could not write the output (ENOSPC).\n');
    assert.equal(full.code, 1);
    // Messages that cannot be written: the command's own exit code still tells what happened.
    const messages = await cli.shell('tokenkeeper status --bogus 2>/dev/full');
    assert.equal(messages.stdout, '');
    assert.equal(messages.code, 2);
  });

  it('| true in a shell', async () => {
    const result = await pipeline('tokenkeeper request hr-key GET /api/v1/employees', 'true');
    assert.equal(result.stderr, '');
    assert.equal(result.status, 141);
  });
});
