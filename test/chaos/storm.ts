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

interface KillLoop {
  processes: number;
  killsPerProcess: number;
  /** CLI argument lists, taken in turn by each process (shifted by its number). */
  commands: string[][];
  env: NodeJS.ProcessEnv;
  seed: number;
}

/** What a run is expected to take before the first one of its command has finished. */
const FIRST_GUESS_MS = 300;

/**
 * Each process runs the commands in turn until it has been killed `killsPerProcess`
 * times; every other run is a victim, killed at a random moment within what that command
 * took the last time it ran to the end. Aiming inside the run's own duration is what makes
 * kills land (a fixed delay misses a run that got faster) and the loop end: each process
 * stops after ten times its kills in runs, whatever happens, and the caller's count of
 * kills then says what went wrong.
 */
export async function killLoop({
  processes,
  killsPerProcess,
  commands,
  env,
  seed,
}: KillLoop): Promise<Run[]> {
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const lastFullRunMs = new Map<string, number>();
  const runs: Run[] = [];
  await Promise.all(
    Array.from({ length: processes }, async (_, worker) => {
      let kills = 0;
      for (let turn = 0; kills < killsPerProcess && turn < killsPerProcess * 10; turn++) {
        const args = commands[(turn + worker) % commands.length]!;
        const command = args.join(' ');
        const victim = random() < 0.5;
        const typicalMs = lastFullRunMs.get(command) ?? FIRST_GUESS_MS;
        const killAfterMs = victim ? Math.floor(typicalMs * (0.1 + 0.9 * random())) : undefined;
        const run = await runOnce(args, env, killAfterMs);
        runs.push(run);
        if (run.killed) kills++;
        else lastFullRunMs.set(command, run.ms);
        // Let tokens go stale now and then, so kills land inside refreshes too.
        if (random() < 0.2) await sleep(1_000 + Math.floor(random() * 1_500));
      }
    }),
  );
  return runs;
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

    const runs = await killLoop({
      processes,
      killsPerProcess,
      // Two reads for each request: requests are paced by the provider's rate limit.
      commands: [
        ['token', 'acme'],
        ['request', 'acme', 'GET', '/v1/numbering-ranges'],
        ['token', 'acme'],
      ],
      env: sandbox.env,
      seed: 20261129,
    });

    const killed = runs.filter((run) => run.killed);
    const survivors = runs.filter((run) => !run.killed);
    assert.ok(killed.length >= processes * killsPerProcess, `${killed.length} kills in ${runs.length} runs`);
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
