/**
 * The SIGKILL storm of the chaos suites: processes killed at random moments while they read, refresh and rotate
 * tokens on one SQLite store, against a Factus emulator with strict rotation and
 * 2-second tokens. Every loop is bounded; the kills are SIGKILL, as a crash or the
 * OOM killer would deliver them, so nothing is released or saved on the way out.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { startFactusEmulator } from '../../src/emulators/factus/factus-emulator.js';
import { factusProfile } from '../../src/providers/factus.js';
import { fixedWindowsFor } from '../../src/store/fixed-windows.js';
import { cliPath, createCliSandbox } from '../helpers/cli.js';

/** The default lease. */
export const LEASE_MS = 15_000;
/** A survivor may wait for a killed holder's lease (across hosts), plus start-up and one poll. */
export const SHARED_STORE_WAIT_MS = LEASE_MS + 2_000;
/**
 * A `request` may also wait for the provider's client-side rate limit, which every process on
 * the store shares: at most one sub-window, since the processes have at most one run each
 * waiting, fewer than a sub-window's budget.
 */
const FACTUS_LIMIT = factusProfile.rateLimits[0]!;
const RATE_LIMIT_WAIT_MS = fixedWindowsFor(FACTUS_LIMIT.limit, FACTUS_LIMIT.windowMs).durationMs;

export interface Run {
  args: string[];
  code: number | null;
  killed: boolean;
  ms: number;
  stderr: string;
}

/** Runs the CLI; with `killAfterMs`, sends SIGKILL then if it is still running. */
export function runOnce(args: string[], env: NodeJS.ProcessEnv, killAfterMs?: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, [cliPath, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let killed = false;
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const killer =
      killAfterMs === undefined
        ? undefined
        : setTimeout(() => {
            killed = child.exitCode === null && child.kill('SIGKILL');
          }, killAfterMs);
    const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(guard);
      if (killer) clearTimeout(killer);
      resolve({ args, code, killed, ms: Date.now() - started, stderr });
    });
  });
}

interface Storm {
  processes: number;
  killsPerProcess: number;
  /**
   * The longest a survivor may wait. On one host a dead holder's lock is taken over at once,
   * so less than a lease; across hosts the dead holder's lease has to run out.
   */
  maxWaitMs: number;
  /** Extra environment: the store location and key, for the shared backends. */
  store?: NodeJS.ProcessEnv;
}

/**
 * Processes loop `tokenkeeper token` and `request`; every other run is killed somewhere
 * between start-up and the end of a refresh. Checks that the connection is never lost,
 * that no survivor waits a lease, and that invalid_grant is only met after a kill.
 */
export async function storm({ processes, killsPerProcess, maxWaitMs, store }: Storm): Promise<void> {
  // The per-user API limit is not under test here: a 429's Retry-After would be waited out.
  const emulator = await startFactusEmulator({
    accessTtlSeconds: 2,
    rotation: 'strict',
    rateLimitPerMinute: 1_000_000,
  });
  const sandbox = await createCliSandbox({
    FACTUS_CLIENT_ID: emulator.credentials.clientId,
    FACTUS_CLIENT_SECRET: emulator.credentials.clientSecret,
    FACTUS_USERNAME: emulator.credentials.username,
    FACTUS_PASSWORD: emulator.credentials.password,
    ...store,
  });
  try {
    const login = await runOnce(
      ['login', 'acme', '--provider', 'factus', '--base-url', emulator.url],
      sandbox.env,
    );
    assert.equal(login.code, 0, login.stderr);

    const runs: Run[] = [];
    let seed = 20261129;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    await Promise.all(
      Array.from({ length: processes }, async (_, worker) => {
        for (let kills = 0; kills < killsPerProcess; ) {
          const args =
            (kills + worker) % 2 === 0
              ? ['token', 'acme']
              : ['request', 'acme', 'GET', '/v1/numbering-ranges'];
          const victim = random() < 0.5;
          const run = await runOnce(args, sandbox.env, victim ? 80 + Math.floor(random() * 400) : undefined);
          runs.push(run);
          if (run.killed) kills++;
          // Let tokens go stale now and then, so kills land inside refreshes too.
          if (random() < 0.2) await sleep(1_000 + Math.floor(random() * 1_500));
        }
      }),
    );

    const killed = runs.filter((run) => run.killed);
    const survivors = runs.filter((run) => !run.killed);
    assert.ok(killed.length >= processes * killsPerProcess, `${killed.length} kills`);
    for (const run of survivors) {
      assert.equal(run.code, 0, `a run that was not killed failed: ${run.stderr}`);
      const bound = run.args[0] === 'request' ? maxWaitMs + RATE_LIMIT_WAIT_MS : maxWaitMs;
      assert.ok(run.ms < bound, `a survivor (${run.args.join(' ')}) waited ${run.ms} ms: ${run.stderr}`);
    }
    // Strict rotation: a kill after the provider rotated but before the save costs that
    // refresh token, and the password fallback recovers. Nothing else may meet invalid_grant.
    const stats = emulator.stats();
    const fallbacks = (stats.tokenRequests.password ?? 0) - 1;
    assert.ok(
      stats.invalidGrant <= killed.length,
      `${stats.invalidGrant} invalid_grant for ${killed.length} kills`,
    );
    assert.ok(fallbacks <= stats.invalidGrant, 'a password login only after a lost rotation');

    // The connection survived: after the storm, it still answers without a new login.
    await sleep(2_500);
    const after = await runOnce(['request', 'acme', 'GET', '/v1/numbering-ranges'], sandbox.env);
    assert.equal(after.code, 0, after.stderr);
    process.stdout.write(
      `# chaos: ${runs.length} runs, ${killed.length} SIGKILLs, ${stats.tokenRequests.refresh_token} refreshes, ` +
        `${stats.invalidGrant} invalid_grant, ${fallbacks} password fallbacks\n`,
    );
  } finally {
    await sandbox.cleanup();
    await emulator.stop();
  }
}
