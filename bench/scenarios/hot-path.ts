/**
 * 1. Hot path: authenticated requests per second through each contender's fetch,
 * against a minimal Bearer-checking node:http server in another process.
 */
import { startBearerServer } from '../lib/bearer-server.js';
import { BENCH_CREDENTIALS } from '../lib/factus.js';
import { measureThroughput } from '../lib/measure.js';
import type { ScenarioResult } from '../lib/report.js';
import type { BenchContext, Scenario } from '../lib/scenario.js';
import { formatCount, formatRatio, formatSpread, median } from '../lib/stats.js';
import { createPeer, PEER_IDS, type PeerId, peerLabel } from '../peers/index.js';
import type { Peer } from '../peers/types.js';

const PATH = '/v1/numbering-ranges';
const GOAL_RATIO = 0.97;

export const hotPath: Scenario = {
  id: 'hot-path',
  title: '1. Hot path: authenticated requests per second',
  async run(ctx: BenchContext): Promise<ScenarioResult> {
    const sizes = ctx.smoke
      ? { rounds: 1, warmupMs: 50, durationMs: 150, concurrency: 16 }
      : { rounds: 9, warmupMs: 300, durationMs: 1000, concurrency: 32 };
    const server = await startBearerServer(10 * 60_000);
    const peers = new Map<PeerId, Peer>();
    const rates = new Map<PeerId, number[]>(PEER_IDS.map((id) => [id, []]));
    try {
      for (const id of PEER_IDS) {
        const peer = createPeer(id, { baseUrl: server.url, credentials: BENCH_CREDENTIALS });
        await peer.login();
        peers.set(id, peer);
      }
      for (let round = 0; round < sizes.rounds; round++) {
        // Rotate the order every round: no contender always follows the same one (GC debt, socket reuse).
        const order = PEER_IDS.map((_, i) => PEER_IDS[(i + round) % PEER_IDS.length] as PeerId);
        for (const id of order) {
          const peer = peers.get(id) as Peer;
          const request = async () => {
            const status = await peer.fetch(PATH);
            if (status !== 200) throw new Error(`${peerLabel(id)}: HTTP ${status} on the hot path`);
          };
          const limits = { concurrency: sizes.concurrency, maxOperations: 2_000_000 };
          await measureThroughput(request, { ...limits, durationMs: sizes.warmupMs });
          const { perSecond } = await measureThroughput(request, { ...limits, durationMs: sizes.durationMs });
          rates.get(id)?.push(perSecond);
        }
        ctx.log(`  round ${round + 1}/${sizes.rounds} done`);
      }
    } finally {
      for (const peer of peers.values()) await peer.close();
      await server.stop();
    }

    const raw = rates.get('raw-fetch') as number[];
    // Each round's ratio is taken against raw fetch in that same round, then the median of those:
    // slow drifts of the machine cancel out instead of landing on whoever ran at a bad moment.
    const ratiosOf = (id: PeerId) => (rates.get(id) as number[]).map((rate, i) => rate / (raw[i] as number));
    const rows = PEER_IDS.map((id) => {
      const values = rates.get(id) as number[];
      return [
        peerLabel(id),
        formatCount(median(values)),
        formatSpread(values, formatCount),
        formatRatio(median(ratiosOf(id))),
        formatSpread(ratiosOf(id), (r) => r.toFixed(2)),
      ];
    });
    const tokenkeeperRatio = median(ratiosOf('tokenkeeper'));
    return {
      id: this.id,
      title: this.title,
      method:
        `Each contender logs in once, then ${sizes.concurrency} callers in a closed loop send GET ${PATH} ` +
        'with the Bearer token to a minimal node:http server (its own process, so client and server each ' +
        `have a core). ${sizes.rounds} rounds of ${sizes.durationMs} ms after a ${sizes.warmupMs} ms warm-up, ` +
        'the order rotated each round; the ratio is taken against raw fetch within each round, then the median.',
      tables: [
        {
          head: ['Contender', 'requests/s (median)', 'min – max', 'vs raw fetch (median)', 'ratio min – max'],
          rows,
        },
      ],
      goals: [
        {
          measure: 'keeper.fetch requests/s vs raw fetch',
          goal: `≥ ${GOAL_RATIO.toFixed(2)}×`,
          measured: formatRatio(tokenkeeperRatio),
          met: tokenkeeperRatio >= GOAL_RATIO,
        },
      ],
      notes: [
        'tokenkeeper runs with a copy of the Factus profile whose client-side limit (80 requests/minute) is removed; with it, this would measure the limiter.',
        'raw fetch writes the header itself and never refreshes: it is the floor every token library pays on top of.',
      ],
      data: { sizes, ratesPerSecond: Object.fromEntries(rates) },
    };
  },
};
