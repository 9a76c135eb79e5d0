/**
 * Chaos with an authorization-code connection (Factorial, strict rotation, 2 s tokens):
 * nothing can log in again without a person, so a kill that lands while the token request
 * is in flight may lose the connection. It must then be reported as re-authorization
 * required (exit 3), never as a crash or a hang.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startFactorialEmulator } from '../../src/emulators/factorial/factorial-emulator.js';
import {
  createAuthorizationRequest,
  readAuthorizationResponse,
} from '../../src/grants/authorization-code.js';
import { createKeeper } from '../../src/keeper.js';
import { createCliSandbox } from '../helpers/cli.js';
import { killLoop, LEASE_MS, runOnce } from './storm.js';

const PROCESSES = 4;
const KILLS_PER_PROCESS = 10;

describe('chaos: SIGKILL with an authorization-code connection (Factorial)', () => {
  it('a connection is lost only to a kill, and then says so with exit 3', async () => {
    const emulator = await startFactorialEmulator({ accessTtlSeconds: 2, rotation: 'strict' });
    const sandbox = await createCliSandbox();
    const setup = createKeeper({ store: sandbox.storePath, proactiveRefresh: false, env: {} });
    try {
      const redirectUri = emulator.credentials.redirectUris[0] as string;
      await setup.connect(
        'hr',
        {
          provider: 'factorial',
          baseUrl: emulator.url,
          clientId: emulator.credentials.clientId,
          clientSecret: emulator.credentials.clientSecret,
        },
        {
          authorize: async (prompt) => {
            const request = await createAuthorizationRequest({ ...prompt, redirectUri });
            const answer = await fetch(request.url, { redirect: 'manual' });
            return {
              code: readAuthorizationResponse(request, answer.headers.get('location') ?? ''),
              redirectUri,
            };
          },
        },
      );
      await setup.close();

      const runs = await killLoop({
        processes: PROCESSES,
        killsPerProcess: KILLS_PER_PROCESS,
        commands: [
          ['token', 'hr'],
          ['request', 'hr', 'GET', '/api/v1/me'],
        ],
        env: sandbox.env,
        seed: 4242,
      });

      const killed = runs.filter((run) => run.killed);
      const survivors = runs.filter((run) => !run.killed);
      assert.ok(
        killed.length >= PROCESSES * KILLS_PER_PROCESS,
        `${killed.length} kills in ${runs.length} runs`,
      );
      for (const run of survivors) {
        assert.ok(run.code === 0 || run.code === 3, `exit ${run.code}: ${run.stderr}`);
        if (run.code === 3) assert.match(run.stderr, /tokenkeeper login hr/);
        assert.ok(run.ms < LEASE_MS, `a survivor (${run.args.join(' ')}) waited ${run.ms} ms`);
      }
      // The kill that loses the connection may hit the last run, with no survivor after it to
      // notice; one more run after the storm tells for sure.
      const after = await runOnce(['request', 'hr', 'GET', '/api/v1/me'], sandbox.env);
      const lost = after.code === 3;
      assert.ok(after.code === 0 || lost, `exit ${after.code}: ${after.stderr}`);
      if (lost) assert.match(after.stderr, /tokenkeeper login hr/);
      // A connection needs a person to come back; a survivor that saw it lost rules out a later
      // run finding it alive.
      assert.ok(lost || survivors.every((run) => run.code === 0), 'a lost connection came back');
      const stats = emulator.stats();
      if (lost) {
        assert.ok(
          stats.invalidGrant >= 1,
          'a loss comes from a refresh token the provider no longer accepts',
        );
        assert.ok(
          stats.invalidGrant <= killed.length,
          `${stats.invalidGrant} invalid_grant for ${killed.length} kills`,
        );
      } else {
        assert.equal(stats.invalidGrant, 0, 'no invalid_grant without a loss');
      }
      process.stdout.write(
        `# chaos (Factorial): ${runs.length} runs, ${killed.length} SIGKILLs, ` +
          `${stats.tokenRequests.refresh_token ?? 0} refreshes, ${stats.invalidGrant} invalid_grant, ` +
          `${lost ? 'connection lost (exit 3)' : 'connection kept'}\n`,
      );
    } finally {
      await sandbox.cleanup();
      await emulator.stop();
    }
  });
});
