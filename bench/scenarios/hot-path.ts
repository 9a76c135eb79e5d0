/**
 * 1. Hot path: authenticated requests per second through each contender's fetch,
 * against a minimal Bearer-checking node:http server in another process; then
 * tokenkeeper's own share of a request, with the network taken out.
 */
import { createKeeper } from '../../src/keeper.js';
import { startBearerServer } from '../lib/bearer-server.js';
import { BENCH_CREDENTIALS } from '../lib/factus.js';
import { measureSequentialRate, measureThroughput, type Throughput } from '../lib/measure.js';
import type { ScenarioResult } from '../lib/report.js';
import type { BenchContext, Scenario } from '../lib/scenario.js';
import { formatCount, formatRatio, median, quantile } from '../lib/stats.js';
import { createPeer, PEER_IDS, type PeerId, peerLabel } from '../peers/index.js';
import { benchProfile, CONNECTION } from '../peers/tokenkeeper.js';
import { type Peer, TOKEN_PATH } from '../peers/types.js';

const PATH = '/v1/numbering-ranges';
const GOAL_RATIO = 0.97;
const CONTENDERS = PEER_IDS.filter((id) => id !== 'raw-fetch');

interface Slice {
  perSecond: number;
  cpuMicros: number;
}

export const hotPath: Scenario = {
  id: 'hot-path',
  title: '1. Hot path: authenticated requests per second',
  async run(ctx: BenchContext): Promise<ScenarioResult> {
    const sizes = ctx.smoke
      ? { rounds: 1, warmupMs: 50, sliceMs: 150, concurrency: 16, stubMs: 100 }
      : { rounds: 10, warmupMs: 100, sliceMs: 500, concurrency: 32, stubMs: 400 };
    const server = await startBearerServer(10 * 60_000);
    const peers = new Map<PeerId, Peer>();
    const slices = new Map<PeerId, Slice[]>(PEER_IDS.map((id) => [id, []]));
    const ratios = new Map<PeerId, number[]>(CONTENDERS.map((id) => [id, []]));
    try {
      for (const id of PEER_IDS) {
        const peer = createPeer(id, { baseUrl: server.url, credentials: BENCH_CREDENTIALS });
        await peer.login();
        peers.set(id, peer);
      }
      const slice = async (id: PeerId, durationMs: number): Promise<Throughput> => {
        const peer = peers.get(id) as Peer;
        const request = async () => {
          const status = await peer.fetch(PATH);
          if (status !== 200) throw new Error(`${peerLabel(id)}: HTTP ${status} on the hot path`);
        };
        const limits = { concurrency: sizes.concurrency, maxOperations: 2_000_000 };
        await measureThroughput(request, { ...limits, durationMs: sizes.warmupMs });
        return measureThroughput(request, { ...limits, durationMs });
      };
      // Everyone's code gets compiled before anything counts.
      for (const id of PEER_IDS) await slice(id, sizes.sliceMs);
      for (let round = 0; round < sizes.rounds; round++) {
        for (const [index, id] of CONTENDERS.entries()) {
          // Paired slices, raw fetch right before or right after (alternating): the machine is shared,
          // and only measurements taken side by side are comparable.
          const rawFirst = (round + index) % 2 === 0;
          const first = await slice(rawFirst ? 'raw-fetch' : id, sizes.sliceMs);
          const second = await slice(rawFirst ? id : 'raw-fetch', sizes.sliceMs);
          const [raw, contender] = rawFirst ? [first, second] : [second, first];
          for (const [who, t] of [
            ['raw-fetch', raw],
            [id, contender],
          ] as const) {
            slices.get(who)?.push({ perSecond: t.perSecond, cpuMicros: t.cpuMicrosPerOperation });
          }
          ratios.get(id)?.push(contender.perSecond / raw.perSecond);
        }
        ctx.log(`  round ${round + 1}/${sizes.rounds} done`);
      }
    } finally {
      for (const peer of peers.values()) await peer.close();
      await server.stop();
    }

    const stub = await measureStubbedOverhead(sizes.stubMs, sizes.rounds);
    const rawCpu = median((slices.get('raw-fetch') as Slice[]).map((s) => s.cpuMicros));
    const tokenkeeperRatio = median(ratios.get('tokenkeeper') as number[]);
    const tokenkeeperCpu = median((slices.get('tokenkeeper') as Slice[]).map((s) => s.cpuMicros));
    const iqr = (values: number[]) =>
      `${quantile(values, 0.25).toFixed(2)} – ${quantile(values, 0.75).toFixed(2)}`;
    return {
      id: this.id,
      title: this.title,
      method:
        `Each contender logs in once, then ${sizes.concurrency} callers in a closed loop send GET ${PATH} with ` +
        'the Bearer token to a minimal node:http server (its own process, so client and server each have a ' +
        `core). Every contender is measured in ${sizes.rounds} slices of ${sizes.sliceMs} ms (after ` +
        `${sizes.warmupMs} ms of warm-up each), each paired with a raw fetch slice right before or after it; ` +
        'the ratio is the median of those paired ratios. Client CPU per request is the client process’s CPU ' +
        'time (all threads) over the requests it completed.',
      tables: [
        {
          head: [
            'Contender',
            'requests/s (median)',
            'vs raw fetch (median of pairs)',
            'pairs q25 – q75',
            'client CPU per request',
          ],
          rows: PEER_IDS.map((id) => {
            const own = slices.get(id) as Slice[];
            const paired = ratios.get(id);
            return [
              peerLabel(id),
              formatCount(median(own.map((s) => s.perSecond))),
              paired ? formatRatio(median(paired)) : '1.00×',
              paired ? iqr(paired) : '-',
              `${median(own.map((s) => s.cpuMicros)).toFixed(0)} µs`,
            ];
          }),
        },
        {
          caption:
            'Where tokenkeeper’s share goes: the same keeper.fetch with the network replaced by a stub fetch ' +
            'that answers at once (sequential calls, median of rounds):',
          head: ['Measure', 'per request'],
          rows: [
            ['calling the stub fetch directly', `${stub.direct.toFixed(1)} µs`],
            ['keeper.fetch → the same stub', `${stub.keeper.toFixed(1)} µs`],
            ['tokenkeeper’s own cost (difference)', `${(stub.keeper - stub.direct).toFixed(1)} µs`],
            ['a whole raw fetch request on loopback (client CPU, above)', `${rawCpu.toFixed(0)} µs`],
            [
              'ratio that cost alone allows (raw / (raw + own))',
              formatRatio(rawCpu / (rawCpu + stub.keeper - stub.direct)),
            ],
          ],
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
        'raw fetch writes the header itself and never refreshes: it is the floor every token library pays on top of. axios-based contenders use node:http instead of undici, so their figures say as much about the HTTP client as about token handling.',
        ...(tokenkeeperRatio >= GOAL_RATIO ? [] : [missNote(stub, rawCpu, tokenkeeperCpu)]),
      ],
      data: {
        sizes,
        slices: Object.fromEntries(slices),
        pairedRatios: Object.fromEntries(ratios),
        stubbedMicros: stub,
      },
    };
  },
};

/** Why the goal was missed, in the figures of this run. */
function missNote(stub: { direct: number; keeper: number }, rawCpu: number, tokenkeeperCpu: number): string {
  const own = stub.keeper - stub.direct;
  return (
    `Missed. With the network stubbed, keeper.fetch spends ${own.toFixed(1)} µs per request of its own ` +
    '(resolving the URL, building the headers, the rate-limit gate, the credential, the redirect and retry ' +
    `checks, and the awaits between them). Against a whole loopback request (${rawCpu.toFixed(0)} µs of ` +
    `client CPU) that alone allows ${formatRatio(rawCpu / (rawCpu + own))}. In the paired runs tokenkeeper’s ` +
    `client used ${tokenkeeperCpu.toFixed(0)} µs per request. The rest of the gap shows only under concurrency ` +
    '(collecting what each request allocates, more promises pending at once) or is noise from a shared ' +
    'machine (see the load average above); it is not isolated here.'
  );
}

/**
 * keeper.fetch against a stub fetch that answers at once, next to calling the stub
 * directly: what is left is tokenkeeper's own work per request (URL resolution,
 * headers, rate-limit gate, credential, redirect and retry checks).
 */
async function measureStubbedOverhead(durationMs: number, rounds: number) {
  const tokenBody = JSON.stringify({
    token_type: 'Bearer',
    expires_in: 3600,
    access_token: 'stub-access-token',
  });
  const stub: typeof fetch = async (input) =>
    String(input).endsWith(TOKEN_PATH)
      ? new Response(tokenBody, { status: 200, headers: { 'content-type': 'application/json' } })
      : new Response(null, { status: 200 });
  const keeper = createKeeper({ store: 'memory:', providers: [benchProfile], fetch: stub, env: {} });
  const baseUrl = 'http://127.0.0.1:9';
  try {
    await keeper.connect(CONNECTION, { provider: benchProfile.id, baseUrl, ...BENCH_CREDENTIALS });
    const token = await keeper.getAccessToken(CONNECTION);
    const limits = { durationMs, maxOperations: 50_000_000, batch: 1000 };
    const direct: number[] = [];
    const viaKeeper: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const d = await measureSequentialRate(async () => {
        const response = await stub(`${baseUrl}${PATH}`, { headers: { authorization: `Bearer ${token}` } });
        await response.arrayBuffer();
      }, limits);
      const k = await measureSequentialRate(async () => {
        const response = await keeper.fetch(CONNECTION, PATH);
        await response.arrayBuffer();
      }, limits);
      direct.push(1e6 / d.perSecond);
      viaKeeper.push(1e6 / k.perSecond);
    }
    return { direct: median(direct), keeper: median(viaKeeper) };
  } finally {
    await keeper.close();
  }
}
