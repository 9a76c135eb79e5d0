/**
 * 2. getAccessToken on a fresh token: calls per second (tokenkeeper and each
 * contender's own "give me the token" step), and what a cached connection costs
 * in memory.
 */
import { join } from 'node:path';
import { startBearerServer } from '../lib/bearer-server.js';
import { BENCH_CREDENTIALS } from '../lib/factus.js';
import { measureKeeperMemory } from '../lib/keeper-memory.js';
import { measureSequentialRate } from '../lib/measure.js';
import { prepareStore } from '../lib/prepared-store.js';
import type { ScenarioResult } from '../lib/report.js';
import type { BenchContext, Scenario } from '../lib/scenario.js';
import { formatBytes, formatCount, formatRatio, formatSpread, median } from '../lib/stats.js';
import { createPeer, PEER_IDS, type PeerId, peerLabel } from '../peers/index.js';

const GOAL_CALLS_PER_SECOND = 2_000_000;

export const getAccessToken: Scenario = {
  id: 'get-token',
  title: '2. getAccessToken on a fresh token',
  async run(ctx: BenchContext): Promise<ScenarioResult> {
    const sizes = ctx.smoke
      ? { rounds: 2, durationMs: 100, connections: 300, rateDurationMs: 100 }
      : { rounds: 7, durationMs: 500, connections: 10_000, rateDurationMs: 1000 };

    const rates = new Map<PeerId, number[]>(PEER_IDS.map((id) => [id, []]));
    const server = await startBearerServer(5 * 60_000);
    try {
      const peers = [];
      for (const id of PEER_IDS) {
        const peer = createPeer(id, { baseUrl: server.url, credentials: BENCH_CREDENTIALS });
        await peer.login();
        peers.push({ id, peer });
      }
      for (let round = 0; round < sizes.rounds; round++) {
        for (const { id, peer } of peers) {
          const getToken = () => peer.getToken();
          const limits = { maxOperations: 100_000_000, batch: 10_000 };
          await measureSequentialRate(getToken, { ...limits, durationMs: sizes.durationMs / 5 });
          const { perSecond } = await measureSequentialRate(getToken, {
            ...limits,
            durationMs: sizes.durationMs,
          });
          rates.get(id)?.push(perSecond);
        }
      }
      for (const { peer } of peers) await peer.close();
    } finally {
      await server.stop();
    }

    ctx.log(`  preparing a SQLite store with ${sizes.connections} connections`);
    const storePath = join(ctx.tmpDir, 'get-token.db');
    const prepared = await prepareStore(storePath, sizes.connections);
    await prepared.close();
    const memory = await measureKeeperMemory(storePath, sizes.connections, sizes.rateDurationMs);

    const tokenkeeperRate = median(rates.get('tokenkeeper') as number[]);
    const floor = median(rates.get('raw-fetch') as number[]);
    return {
      id: this.id,
      title: this.title,
      method:
        'Calls per second of `await getToken()` one after another on a token that is fresh, in batches of ' +
        `10,000, ${sizes.rounds} rounds of ${sizes.durationMs} ms, median. For the contenders this is the step ` +
        'their users run before each request (an expiry check where the library has one). Memory: a separate ' +
        `process (with --expose-gc) opens a SQLite store holding ${formatCount(sizes.connections)} connections, ` +
        'takes each token once so the keeper caches it, and reports heap and RSS growth divided by the count.',
      tables: [
        {
          head: ['Contender', 'calls/s (median)', 'min – max', 'vs an async function returning a string'],
          rows: PEER_IDS.map((id) => {
            const values = rates.get(id) as number[];
            return [
              id === 'raw-fetch' ? 'async function returning a string (floor)' : peerLabel(id),
              formatCount(median(values)),
              formatSpread(values, formatCount),
              formatRatio(median(values) / floor),
            ];
          }),
        },
        {
          caption: `tokenkeeper serving ${formatCount(memory.count)} connections from one keeper:`,
          head: ['Measure', 'value'],
          rows: [
            ['heap per cached connection', formatBytes(memory.heapPerConnection)],
            ['RSS per cached connection', formatBytes(memory.rssPerConnection)],
            [
              'first getAccessToken of every connection (store read + decrypt)',
              `${formatCount(memory.warmMs)} ms`,
            ],
            [
              'getAccessToken calls/s cycling over all connections',
              formatCount(memory.callsPerSecondAcrossConnections),
            ],
          ],
        },
      ],
      goals: [
        {
          measure: 'getAccessToken calls/s on a fresh token',
          goal: `≥ ${formatCount(GOAL_CALLS_PER_SECOND)}/s`,
          measured: `${formatCount(tokenkeeperRate)}/s`,
          met: tokenkeeperRate >= GOAL_CALLS_PER_SECOND,
        },
      ],
      notes: [
        'The memory figure counts what the keeper holds per connection (its session: the access token, its expiry and where it is sent, and an entry in the keeper’s one refresh schedule), not the store: the rows, refresh tokens and secrets stay in SQLite.',
      ],
      data: { sizes, callsPerSecond: Object.fromEntries(rates), memory },
    };
  },
};
