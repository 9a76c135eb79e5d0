/**
 * 3. Refresh storm in one process: many callers need the API at the instant the
 * token has expired. How many token requests does each library make?
 */
import { API_PATH, BENCH_CREDENTIALS, startStormEmulator } from '../lib/factus.js';
import { forEachItem } from '../lib/measure.js';
import type { ScenarioResult } from '../lib/report.js';
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

export const stormOneProcess: Scenario = {
  id: 'storm-1proc',
  title: '3. Refresh storm in one process',
  async run(ctx: BenchContext): Promise<ScenarioResult> {
    // The smoke run storms every library at once (separate emulators), the full run one after another.
    const sizes = ctx.smoke
      ? { callers: 200, ttlSeconds: 1, parallel: true }
      : { callers: 10_000, ttlSeconds: 5, parallel: false };
    const results = await forEachItem(REFRESHING_PEER_IDS, sizes.parallel, async (id) => {
      ctx.log(`  ${peerLabel(id)}`);
      // A fresh emulator per library: its counters and token families are that library's alone.
      const emulator = await startStormEmulator(sizes.ttlSeconds);
      try {
        const options: PeerOptions = {
          baseUrl: emulator.url,
          credentials: BENCH_CREDENTIALS,
          // The storm is the on-demand path; a background refresh would have renewed the token before it.
          proactiveRefresh: false,
          // The seed refreshes every 55 minutes for 60-minute tokens: the same fraction of this lifetime.
          refreshEveryMs: (sizes.ttlSeconds * 1000 * 55) / 60,
        };
        const run = await runStorm({
          emulator,
          processes: 1,
          ttlSeconds: sizes.ttlSeconds,
          config: { peer: id, options, callers: sizes.callers, path: API_PATH },
          stormTimeoutMs: 120_000,
        });
        return [id, run] as const;
      } finally {
        await emulator.stop();
      }
    });
    const runs = new Map<PeerId, StormRun>(results);

    const tokenkeeper = runs.get('tokenkeeper') as StormRun;
    const tokenkeeperFailed = failedCallers(tokenkeeper.outcomes);
    return {
      id: this.id,
      title: this.title,
      method:
        `One process per library logs in to a Factus emulator (strict rotation, ${sizes.ttlSeconds} s access ` +
        `tokens), waits until the token has expired in real time, then starts ${formatCount(sizes.callers)} ` +
        `authenticated GET ${API_PATH} in the same tick. The emulator counts the token requests (by grant), ` +
        'the invalid_grant answers and the 401s from then until the last caller has its answer.',
      tables: [
        {
          head: [
            'Library',
            'token requests',
            'invalid_grant',
            'API 401s',
            'callers failed',
            'how the callers ended',
            'storm time',
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
        },
      ],
      goals: [
        {
          measure: `token requests for ${formatCount(sizes.callers)} concurrent callers at expiry`,
          goal: 'exactly 1, no caller failed',
          measured: `${formatCount(tokenkeeper.expiry.tokenRequests.total)}, ${formatCount(tokenkeeperFailed)} failed`,
          met: tokenkeeper.expiry.tokenRequests.total === 1 && tokenkeeperFailed === 0,
        },
      ],
      notes: [
        'tokenkeeper runs with proactiveRefresh off here, so the refresh happens in the storm (its default would have renewed the token before expiry).',
        'The seed refreshes on its fixed timer only (55/60 of the token lifetime, as 55 minutes is for Factus’s hour): its refresh happened before the storm, so its callers find a fresh token in memory. The timer is its whole strategy: it never looks at expiry, and nothing renews a token that was revoked or a process that was suspended.',
        'axios-auth-refresh refreshes only after a 401: every caller is first sent with the expired token. While the refresh runs, the instance is paused, but 401s that arrive during the refresh are rejected to the caller (its deduplicateRefresh), and 401s that arrive after it start another refresh.',
        'openid-client and simple-oauth2 leave caching and de-duplication to their users; wired as their documentation shows, every caller that sees the expired token runs its own refresh grant, and under strict rotation only the first succeeds.',
      ],
      data: { sizes, runs: Object.fromEntries(runs) },
    };
  },
};
