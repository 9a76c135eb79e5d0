/**
 * Ctrl-C and SIGTERM in the middle of a refresh: the CLI lets the refresh save the
 * tokens the provider already rotated, then exits 130 / 143. Without that, strict
 * rotation would leave a dead refresh token in the store. A demo stopped so leaves no
 * temporary store behind, and `exec` passes SIGTERM and SIGHUP on to its command.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type FactusEmulatorOptions,
  type FactusRunningEmulator,
  startFactusEmulator,
} from '../../src/emulators/factus/factus-emulator.js';
import { type CliSandbox, cliPath, createCliSandbox, factusEnv } from '../helpers/cli.js';

function runUntilSignal(
  args: string[],
  env: NodeJS.ProcessEnv,
  signal: NodeJS.Signals,
  afterMs: number,
  nobodyReadsStderr = false,
) {
  return new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    // Its "Cancelled." then meets a closed pipe, which must not cut the save short.
    if (nobodyReadsStderr) child.stderr.destroy();
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill(signal), afterMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

/**
 * Runs `test` with a Factus emulator and a CLI sandbox logged in to it as `acme`, then removes the
 * sandbox and stops the emulator: the refresh and the exec signal tests all start from that login.
 */
async function withAcmeLoggedIn(
  emulatorOptions: FactusEmulatorOptions,
  test: (loggedIn: { emulator: FactusRunningEmulator; sandbox: CliSandbox }) => Promise<void>,
): Promise<void> {
  const emulator = await startFactusEmulator(emulatorOptions);
  const sandbox = await createCliSandbox(factusEnv(emulator));
  try {
    const login = await sandbox.run(['login', 'acme', '--provider', 'factus', '--base-url', emulator.url]);
    assert.equal(login.code, 0, login.stderr);
    await test({ emulator, sandbox });
  } finally {
    await sandbox.cleanup();
    await emulator.stop();
  }
}

describe('the CLI on SIGINT and SIGTERM during a refresh', () => {
  for (const [signal, exitCode, nobodyReadsStderr] of [
    ['SIGINT', 130, false],
    ['SIGTERM', 143, false],
    ['SIGTERM', 143, true],
  ] as const) {
    const title = `${signal}${nobodyReadsStderr ? ' with nobody reading stderr' : ''}`;
    it(`${title}: saves the rotated tokens, then exits ${exitCode}`, async () => {
      await withAcmeLoggedIn({ accessTtlSeconds: 2, rotation: 'strict' }, async ({ emulator, sandbox }) => {
        await sleep(2_100); // stale
        // The provider takes 1.5 s to answer the refresh; the signal comes while it is answering.
        emulator.faults.add({ point: 'token', delayMs: 1_500, count: 1 });
        const interrupted = await runUntilSignal(
          ['refresh', 'acme'],
          sandbox.env,
          signal,
          700,
          nobodyReadsStderr,
        );
        assert.equal(interrupted.code, exitCode, interrupted.stderr);
        assert.equal(emulator.stats().tokenRequests.refresh_token, 1);
        // The rotated refresh token was saved: the next refresh needs no password and meets no invalid_grant.
        const next = await sandbox.run(['refresh', 'acme']);
        assert.equal(next.code, 0, next.stderr);
        assert.equal(emulator.stats().invalidGrant, 0);
        assert.equal(emulator.stats().tokenRequests.password, 1, 'only the login used the password');
      });
    });
  }
});

describe('the CLI on SIGINT and SIGTERM during a demo', () => {
  for (const [signal, exitCode] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    it(`${signal}: removes its temporary store and key, then exits ${exitCode}`, async () => {
      const sandbox = await createCliSandbox();
      // Its own temporary directory, so that only this demo's leftovers are looked for.
      const tmp = join(sandbox.home, 'tmp');
      await mkdir(tmp);
      const child = spawn(process.execPath, [cliPath, 'demo', '--seconds', '60'], {
        env: { ...sandbox.env, TMPDIR: tmp },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      try {
        let stdout = '';
        await new Promise<void>((resolve, reject) => {
          child.stdout.on('data', (chunk) => {
            stdout += chunk;
            if (/factus: logged in/.test(stdout)) resolve();
          });
          child.on('close', () => reject(new Error(`the demo ended early:\n${stdout}`)));
        });
        const [demoDir] = (await readdir(tmp)).filter((entry) => entry.startsWith('tokenkeeper-demo-'));
        assert.ok(demoDir, 'the demo keeps its store in a temporary directory');
        assert.ok((await readdir(join(tmp, demoDir))).includes('tokens.key'));
        const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
        child.kill(signal);
        assert.equal(await exited, exitCode);
        assert.deepEqual(await readdir(tmp), [], 'nothing left behind');
      } finally {
        child.kill('SIGKILL');
        await sandbox.cleanup();
      }
    });
  }
});

describe('exec passes SIGTERM and SIGHUP on to its command', () => {
  /** Runs `exec` on a node script that prints its pid; resolves once the script is running. */
  async function startExec(env: NodeJS.ProcessEnv, script: string) {
    const child = spawn(process.execPath, [cliPath, 'exec', 'acme', '--', process.execPath, '-e', script], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    const commandPid = await new Promise<number>((resolve, reject) => {
      child.stdout.on('data', (chunk) => {
        stdout += chunk;
        const match = stdout.match(/^pid (\d+)\n/);
        if (match) resolve(Number(match[1]));
      });
      child.on('close', (code) => reject(new Error(`exec ended early (${code}):\n${stdout}`)));
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    return { child, commandPid, exited };
  }

  const running = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  for (const [signal, number] of [
    ['SIGTERM', 15],
    ['SIGHUP', 1],
  ] as const) {
    it(`${signal} to tokenkeeper alone ends the command too; tokenkeeper exits with its status`, async () => {
      await withAcmeLoggedIn({}, async ({ sandbox }) => {
        const plain = await startExec(
          sandbox.env,
          'console.log("pid " + process.pid); setTimeout(() => {}, 60_000);',
        );
        plain.child.kill(signal);
        assert.equal(await plain.exited, 128 + number, 'the command was stopped by the signal');
        assert.equal(running(plain.commandPid), false, 'the command is not left running');

        // A command that handles the signal decides how it ends, and that is tokenkeeper's status.
        const handling = await startExec(
          sandbox.env,
          `process.on(${JSON.stringify(signal)}, () => process.exit(7)); console.log("pid " + process.pid); setTimeout(() => {}, 60_000);`,
        );
        handling.child.kill(signal);
        assert.equal(await handling.exited, 7);
        assert.equal(running(handling.commandPid), false);
      });
    });
  }
});
