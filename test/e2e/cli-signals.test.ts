/**
 * Ctrl-C and SIGTERM in the middle of a refresh: the CLI lets the refresh save the
 * tokens the provider already rotated, then exits 130 / 143. Without that, strict
 * rotation would leave a dead refresh token in the store.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startFactusEmulator } from '../../src/emulators/factus/factus-emulator.js';
import { cliPath, createCliSandbox } from '../helpers/cli.js';

function runUntilSignal(args: string[], env: NodeJS.ProcessEnv, signal: NodeJS.Signals, afterMs: number) {
  return new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
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

describe('the CLI on SIGINT and SIGTERM during a refresh', () => {
  for (const [signal, exitCode] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    it(`${signal}: saves the rotated tokens, then exits ${exitCode}`, async () => {
      const emulator = await startFactusEmulator({ accessTtlSeconds: 2, rotation: 'strict' });
      const sandbox = await createCliSandbox({
        FACTUS_CLIENT_ID: emulator.credentials.clientId,
        FACTUS_CLIENT_SECRET: emulator.credentials.clientSecret,
        FACTUS_USERNAME: emulator.credentials.username,
        FACTUS_PASSWORD: emulator.credentials.password,
      });
      try {
        const login = await sandbox.run([
          'login',
          'acme',
          '--provider',
          'factus',
          '--base-url',
          emulator.url,
        ]);
        assert.equal(login.code, 0, login.stderr);
        await sleep(2_100); // stale
        // The provider takes 1.5 s to answer the refresh; the signal comes while it is answering.
        emulator.faults.add({ point: 'token', delayMs: 1_500, count: 1 });
        const interrupted = await runUntilSignal(['refresh', 'acme'], sandbox.env, signal, 700);
        assert.equal(interrupted.code, exitCode, interrupted.stderr);
        assert.equal(emulator.stats().tokenRequests.refresh_token, 1);
        // The rotated refresh token was saved: the next refresh needs no password and meets no invalid_grant.
        const next = await sandbox.run(['refresh', 'acme']);
        assert.equal(next.code, 0, next.stderr);
        assert.equal(emulator.stats().invalidGrant, 0);
        assert.equal(emulator.stats().tokenRequests.password, 1, 'only the login used the password');
      } finally {
        await sandbox.cleanup();
        await emulator.stop();
      }
    });
  }
});
