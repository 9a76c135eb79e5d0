/**
 * 3. Refresh storm in one process: many callers need a token at the instant it has
 * expired. How many token requests does each library make, and who gets served?
 */
import { API_PATH, BENCH_CREDENTIALS, startStormEmulator } from '../lib/factus.js';
import { forEachItem } from '../lib/measure.js';
import type { ScenarioResult, Table } from '../lib/report.js';
import type { BenchContext, Scenario } from '../lib/scenario.js';
import { formatCount, formatMs } from '../lib/stats.js';
import {
  describeOutcomes,
  failedCallers,
  runStorm,
  type StormRun,
  tokenRequestSummary,
} from '../lib/storm.js';
import { type PeerId, peerLabel, REFRESHING_PEER_IDS } from '../peers/index.js';
import type { PeerOptions } from '../peers/types.js';

interface StormSize {
  mode: 'token' | 'fetch';
  callers: number;
  ttlSeconds: number;
}

export const stormOneProcess: Scenario = {
  id: 'storm-1proc',
  title: '3. Refresh storm in one process',
  async run(ctx: BenchContext): Promise<ScenarioResult> {
    // The smoke run storms every library at once (separate emulators), the full run one after another.
    const parallel = ctx.smoke;
    const tokenStorm: StormSize = {
      mode: 'token',
      callers: ctx.smoke ? 200 : 10_000,
      ttlSeconds: ctx.smoke ? 1 : 2,
    };
    // Requests open a connection each; past the server's accept backlog (511) loopback TCP itself
    // starts to drop and retry, which would be measured instead of the libraries.
    const requestStorm: StormSize = {
      mode: 'fetch',
      callers: ctx.smoke ? 100 : 500,
      ttlSeconds: ctx.smoke ? 1 : 6,
    };

    ctx.log(`  ${formatCount(tokenStorm.callers)} callers asking for a token`);
    const tokenRuns = await stormEach(tokenStorm, parallel, ctx);
    ctx.log(`  ${formatCount(requestStorm.callers)} callers making a request`);
    const requestRuns = await stormEach(requestStorm, parallel, ctx);

    const tk = tokenRuns.get('tokenkeeper') as StormRun;
    const tkRequests = requestRuns.get('tokenkeeper') as StormRun;
    const tkFailed = failedCallers(tk.outcomes);
    const tkRequestsFailed = failedCallers(tkRequests.outcomes);
    return {
      id: this.id,
      title: this.title,
      method:
        'One process per library logs in to its own Factus emulator (strict rotation: a used refresh token and ' +
        'its access token are revoked at once), waits until the access token has expired in real time, then ' +
        'starts every caller in the same tick. First storm: each caller asks the library for a token the way ' +
        'its users do before a request (`getToken()`); each distinct token handed out is then tried once ' +
        `against the API. Second storm: each caller makes one authenticated GET ${API_PATH} through the library. ` +
        'The emulator counts token requests (by grant), invalid_grant answers and API 401s from the end of the ' +
        'login until the last caller has its answer.',
      tables: [
        stormTable(
          `${formatCount(tokenStorm.callers)} callers asking for a token (${tokenStorm.ttlSeconds} s tokens):`,
          tokenRuns,
        ),
        stormTable(
          `${formatCount(requestStorm.callers)} callers making a request (${requestStorm.ttlSeconds} s tokens):`,
          requestRuns,
        ),
      ],
      goals: [
        {
          measure: `token requests for ${formatCount(tokenStorm.callers)} concurrent callers at expiry`,
          goal: 'exactly 1, no caller failed',
          measured: `${formatCount(tk.expiry.tokenRequests.total)}, ${formatCount(tkFailed)} failed`,
          met: tk.expiry.tokenRequests.total === 1 && tkFailed === 0,
        },
        {
          measure: `token requests for ${formatCount(requestStorm.callers)} concurrent keeper.fetch at expiry`,
          goal: 'exactly 1, no caller failed',
          measured: `${formatCount(tkRequests.expiry.tokenRequests.total)}, ${formatCount(tkRequestsFailed)} failed`,
          met: tkRequests.expiry.tokenRequests.total === 1 && tkRequestsFailed === 0,
        },
      ],
      notes: [
        'tokenkeeper runs with proactiveRefresh off here, so the refresh happens in the storm (its default would have renewed the token before expiry).',
        'The seed refreshes on its fixed timer only (55/60 of the token lifetime, as 55 minutes is for Factus’s hour): its refresh happened before the storm, so its callers find a fresh token in memory. The timer is its whole strategy: it never looks at expiry, and nothing renews a token that was revoked or a process that was suspended.',
        'axios-auth-refresh refreshes only after a 401, inside requests: asked for a token it hands out the expired one. In the request storm every caller is first sent with the expired token; while the refresh runs the instance is paused, but 401s that arrive during the refresh are rejected to the caller (its deduplicateRefresh), and 401s that arrive after it start another refresh.',
        'openid-client and simple-oauth2 leave caching and de-duplication to their users; wired as their documentation shows, every caller that sees the expired token runs its own refresh grant, and under strict rotation only the first succeeds. With 10,000 of them at once, some never reach the token endpoint (connection errors): the loopback server cannot accept 10,000 connections at once either. Where their one successful caller shows as refused, the check of its token waited behind those thousands of connections for longer than the 2 s token lived.',
      ],
      data: {
        tokenStorm: { ...tokenStorm, runs: Object.fromEntries(tokenRuns) },
        requestStorm: { ...requestStorm, runs: Object.fromEntries(requestRuns) },
      },
    };
  },
};

async function stormEach(
  size: StormSize,
  parallel: boolean,
  ctx: BenchContext,
): Promise<Map<PeerId, StormRun>> {
  const runs = await forEachItem(REFRESHING_PEER_IDS, parallel, async (id) => {
    ctx.log(`    ${peerLabel(id)}`);
    // A fresh emulator per library and storm: its counters and token families are that run's alone.
    const emulator = await startStormEmulator(size.ttlSeconds);
    try {
      const options: PeerOptions = {
        baseUrl: emulator.url,
        credentials: BENCH_CREDENTIALS,
        // The storm is the on-demand path; a background refresh would have renewed the token before it.
        proactiveRefresh: false,
        // The seed refreshes every 55 minutes for 60-minute tokens: the same fraction of this lifetime.
        refreshEveryMs: (size.ttlSeconds * 1000 * 55) / 60,
      };
      const run = await runStorm({
        emulator,
        processes: 1,
        ttlSeconds: size.ttlSeconds,
        config: { peer: id, options, mode: size.mode, callers: size.callers, path: API_PATH },
        stormTimeoutMs: 150_000,
      });
      return [id, run] as const;
    } finally {
      await emulator.stop();
    }
  });
  return new Map(runs);
}

function stormTable(caption: string, runs: Map<PeerId, StormRun>): Table {
  return {
    caption,
    head: [
      'Library',
      'token requests',
      'invalid_grant',
      'API 401s',
      'callers failed',
      'how the callers ended',
      'time',
    ],
    align: 'lrrrrlr',
    rows: [...runs].map(([id, run]) => [
      peerLabel(id),
      tokenRequestSummary(run.expiry),
      formatCount(run.expiry.invalidGrant),
      formatCount(run.expiry.unauthorized),
      formatCount(failedCallers(run.outcomes)),
      describeOutcomes(run.outcomes),
      formatMs(run.outcomes[0]?.ms ?? Number.NaN),
    ]),
  };
}
