/**
 * 4. Refresh storm across processes: several processes of one application, strict
 * rotation, the token expires. tokenkeeper's processes share one SQLite store; every
 * other library's processes run on their own, as their users run them.
 */
import { join } from 'node:path';
import { createKeeper } from '../../src/keeper.js';
import { API_PATH, BENCH_CREDENTIALS, startStormEmulator } from '../lib/factus.js';
import { forEachItem } from '../lib/measure.js';
import type { ScenarioResult } from '../lib/report.js';
import type { BenchContext, Scenario } from '../lib/scenario.js';
import { formatCount } from '../lib/stats.js';
import {
  describeOutcomes,
  failedCallers,
  runStorm,
  type StormRun,
  tokenRequestSummary,
} from '../lib/storm.js';
import { type PeerId, peerLabel } from '../peers/index.js';
import { benchProfile, CONNECTION } from '../peers/tokenkeeper.js';
import { type PeerOptions, tokenUrlOf } from '../peers/types.js';

interface Contender {
  label: string;
  peer: PeerId;
  /** Options the processes get; may do work once before they start. */
  prepare(baseUrl: string, dir: string): Promise<Partial<PeerOptions>>;
  /** Runs when every process is loaded, just before they log in. */
  beforeLogin?(baseUrl: string, options: Partial<PeerOptions>): Promise<void>;
}

const CONTENDERS: Contender[] = [
  {
    label: 'tokenkeeper (one SQLite store)',
    peer: 'tokenkeeper',
    prepare: async (_baseUrl, dir) => ({
      store: join(dir, 'processes.db'),
      connectionExists: true,
      proactiveRefresh: false,
    }),
    // One login, saved to the store every process opens; done once they are loaded, so the
    // token is as young at their start as the other libraries' own logins are.
    async beforeLogin(baseUrl, options) {
      const keeper = createKeeper({
        store: options.store as string,
        proactiveRefresh: false,
        providers: [benchProfile],
        env: {},
      });
      try {
        await keeper.connect(CONNECTION, { provider: benchProfile.id, baseUrl, ...BENCH_CREDENTIALS });
      } finally {
        await keeper.close();
      }
    },
  },
  { label: peerLabel('seed'), peer: 'seed', prepare: async () => ({}) },
  {
    label: `${peerLabel('seed')}, refresh_token in the shared environment`,
    peer: 'seed',
    // The seed documents refresh_token as an optional environment variable: a deployment that
    // keeps the one from an earlier run gives every process the same one.
    async prepare(baseUrl) {
      const { clientId, clientSecret, username, password } = BENCH_CREDENTIALS;
      const response = await fetch(tokenUrlOf(baseUrl), {
        method: 'POST',
        body: new URLSearchParams({
          grant_type: 'password',
          client_id: clientId,
          client_secret: clientSecret,
          username,
          password,
        }),
      });
      const body = (await response.json()) as { refresh_token: string };
      return { refreshToken: body.refresh_token };
    },
  },
  { label: peerLabel('axios-auth-refresh'), peer: 'axios-auth-refresh', prepare: async () => ({}) },
  { label: peerLabel('openid-client'), peer: 'openid-client', prepare: async () => ({}) },
  { label: peerLabel('simple-oauth2'), peer: 'simple-oauth2', prepare: async () => ({}) },
];

export const stormProcesses: Scenario = {
  id: 'storm-procs',
  title: '4. Refresh storm across processes',
  async run(ctx: BenchContext): Promise<ScenarioResult> {
    // The smoke run starts every library's processes at once (separate emulators), the full run one after another.
    const sizes = ctx.smoke
      ? { processes: 2, callersPerProcess: 20, ttlSeconds: 1, parallel: true }
      : { processes: 8, callersPerProcess: 50, ttlSeconds: 4, parallel: false };
    const runs = await forEachItem(CONTENDERS, sizes.parallel, async (contender) => {
      ctx.log(`  ${contender.label}`);
      const emulator = await startStormEmulator(sizes.ttlSeconds);
      try {
        const prepared = await contender.prepare(emulator.url, ctx.tmpDir);
        const startStats = emulator.stats();
        emulator.resetStats();
        const options: PeerOptions = {
          baseUrl: emulator.url,
          credentials: BENCH_CREDENTIALS,
          refreshEveryMs: (sizes.ttlSeconds * 1000 * 55) / 60,
          ...prepared,
        };
        const run = await runStorm({
          emulator,
          processes: sizes.processes,
          ttlSeconds: sizes.ttlSeconds,
          config: {
            peer: contender.peer,
            options,
            mode: 'fetch',
            callers: sizes.callersPerProcess,
            path: API_PATH,
          },
          startStats,
          ...(contender.beforeLogin
            ? { beforeLogin: () => contender.beforeLogin!(emulator.url, prepared) }
            : {}),
          stormTimeoutMs: 60_000,
        });
        return { contender, run };
      } finally {
        await emulator.stop();
      }
    });

    const tokenkeeper = runs[0]?.run as StormRun;
    const tokenkeeperFailed = failedCallers(tokenkeeper.outcomes);
    const callers = sizes.processes * sizes.callersPerProcess;
    return {
      id: this.id,
      title: this.title,
      method:
        `${sizes.processes} processes per library, Factus emulator with strict rotation and ${sizes.ttlSeconds} s ` +
        'access tokens. The processes load, then log in together ("start"; for tokenkeeper one login beforehand, ' +
        'shared through the SQLite store, so each process starts by reading it); after the tokens have expired in ' +
        `real time, each process starts ${sizes.callersPerProcess} authenticated requests in one tick ` +
        `(${formatCount(callers)} callers in all). "At expiry" counts everything from the end of the start until ` +
        'the last answer.',
      tables: [
        {
          head: [
            'Library',
            'start: token requests',
            'start: invalid_grant',
            'at expiry: token requests',
            'at expiry: invalid_grant',
            'API 401s',
            'callers failed',
            'how the callers ended',
          ],
          align: 'lrrrrrrl',
          rows: runs.map(({ contender, run }) => [
            contender.label,
            tokenRequestSummary(run.start),
            formatCount(run.start.invalidGrant),
            tokenRequestSummary(run.expiry),
            formatCount(run.expiry.invalidGrant),
            formatCount(run.expiry.unauthorized),
            `${formatCount(failedCallers(run.outcomes))} of ${formatCount(callers)}`,
            describeOutcomes(run.outcomes),
          ]),
        },
      ],
      goals: [
        {
          measure: `token requests per expiry, ${sizes.processes} processes on one SQLite store`,
          goal: '1',
          measured: formatCount(tokenkeeper.expiry.tokenRequests.total),
          met: tokenkeeper.expiry.tokenRequests.total === 1,
        },
        {
          measure: 'invalid_grant per expiry (and callers failed)',
          goal: '0 (0)',
          measured: `${formatCount(tokenkeeper.expiry.invalidGrant)} (${formatCount(tokenkeeperFailed)})`,
          met: tokenkeeper.expiry.invalidGrant === 0 && tokenkeeperFailed === 0,
        },
      ],
      notes: [
        'tokenkeeper runs with proactiveRefresh off, so all processes ask at the same instant on demand (the hard case); with it on, the first process’s timer would refresh before expiry and the others adopt the stored token.',
        'Without a shared store, every other library’s process logs in by itself (one token family per process): no invalid_grant, but one password grant per process at start and one refresh per process at every expiry, multiplied again by the in-process storm of scenario 3.',
        'The seed row with refresh_token in the environment is the seed’s own optional variable set the same for every process: all but one process spend the same refresh token, get invalid_grant, keep no access token and fail every request until the next timer tick, which fails the same way.',
      ],
      data: { sizes, runs: runs.map(({ contender, run }) => ({ label: contender.label, ...run })) },
    };
  },
};
