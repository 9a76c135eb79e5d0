/**
 * 10. and 11. The daemon's HTTP API on loopback: requests through /proxy/{name}/… against
 * the same requests sent straight to the upstream, and the latency of /token.
 */
import { mkdtempSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createKeeper } from '../../src/keeper.js';
import { type BearerServer, startBareProxy, startBearerServer } from '../lib/bearer-server.js';
import { BENCH_CREDENTIALS } from '../lib/factus.js';
import { findNginx, startNginxProxy } from '../lib/native-proxy.js';
import type { ScenarioResult } from '../lib/report.js';
import type { BenchContext, Scenario } from '../lib/scenario.js';
import { type DaemonChild, SERVE_SECRET, serveEnv, startDaemonChild } from '../lib/serve.js';
import { formatCount, formatMs, formatRatio, maximum, median, quantile } from '../lib/stats.js';
import { benchProfile, CONNECTION } from '../peers/tokenkeeper.js';

const PATH = '/v1/numbering-ranges';
/** A provider's API takes time of its own: the upstream answers this path after that long. */
const PROVIDER_TIME_MS = 20;
const SLOW_PATH = `/slow/${PROVIDER_TIME_MS}${PATH}`;
const PROXY_GOAL_RATIO = 0.8;
const PROXY_GOAL_ADDED_P99_MS = 1;
const TOKEN_GOAL_P99_MS = 1;

interface Rig {
  upstream: BearerServer;
  daemon: DaemonChild;
  /** The upstream's token, for the direct requests. */
  token: string;
  close(): Promise<void>;
}

/** The minimal upstream in its own process, one connection to it, and a daemon on that store. */
async function startRig(ctx: BenchContext, file: string): Promise<Rig> {
  const env = serveEnv();
  const storePath = join(ctx.tmpDir, file);
  const upstream = await startBearerServer(30 * 60_000);
  let token: string;
  try {
    const keeper = createKeeper({
      store: storePath,
      providers: [benchProfile],
      proactiveRefresh: false,
      env,
    });
    try {
      await keeper.connect(CONNECTION, {
        provider: benchProfile.id,
        baseUrl: upstream.url,
        ...BENCH_CREDENTIALS,
      });
      token = await keeper.getAccessToken(CONNECTION);
    } finally {
      await keeper.close();
    }
    const daemon = await startDaemonChild({ store: storePath, benchProfile: true }, env);
    return {
      upstream,
      daemon,
      token,
      close: async () => {
        await daemon.stop();
        await upstream.stop();
      },
    };
  } catch (error) {
    await upstream.stop();
    throw error;
  }
}

interface Target {
  url: string;
  authorization: string;
}

/**
 * How long a request may go without a byte before it fails: a proxy that never answers
 * fails its scenario at once instead of holding a worker until the run's budget.
 */
const STALLED_REQUEST_MS = 10_000;

/** One GET on a keep-alive agent, its body read to the end; resolves with the status. */
function get(agent: Agent, target: Target, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const url = `${target.url}${path}`;
    const req = request(
      url,
      {
        agent,
        // The socket's idle timer: no timer of its own per request, so the client's CPU column stays the request's.
        timeout: STALLED_REQUEST_MS,
        headers: { authorization: target.authorization, accept: 'application/json' },
      },
      (res) => {
        res.resume();
        res.once('end', () => resolve(res.statusCode ?? 0));
        res.once('error', reject);
      },
    );
    req.once('timeout', () =>
      req.destroy(new Error(`GET ${url} went ${STALLED_REQUEST_MS} ms without a byte`)),
    );
    req.once('error', reject);
    req.end();
  });
}

interface Slice {
  requests: number;
  elapsedMs: number;
}

/** Closed loop: `concurrency` requests in flight for `durationMs`. */
async function throughput(
  target: Target,
  path: string,
  concurrency: number,
  durationMs: number,
): Promise<Slice> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  let done = 0;
  let failures = 0;
  const begin = performance.now();
  const deadline = begin + durationMs;
  const worker = async () => {
    while (performance.now() < deadline && done < 10_000_000) {
      if ((await get(agent, target, path)) !== 200) failures++;
      done++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsedMs = performance.now() - begin;
  agent.destroy();
  if (failures > 0) throw new Error(`${failures} of ${done} requests to ${target.url}${path} failed`);
  return { requests: done, elapsedMs };
}

const perSecond = (slice: Slice) => (slice.requests / slice.elapsedMs) * 1000;

const formatUs = (us: number | undefined) => (us === undefined ? '-' : `${us.toFixed(0)} µs`);

/** What one request cost each process in a slice, in µs of CPU; the client is this process. */
interface RequestCost {
  client: number;
  upstream: number;
  /** The proxy's process; undefined for the direct requests. */
  proxy: number | undefined;
}

/** A throughput slice, with the CPU each process spent on it divided by its requests. */
async function costedThroughput(
  side: { target: Target; prefix: string; proxyCpuMs?: () => Promise<number> },
  upstream: BearerServer,
  concurrency: number,
  durationMs: number,
): Promise<{ rps: number; cost: RequestCost }> {
  const clientBefore = process.cpuUsage();
  const [upstreamBefore, proxyBefore] = await Promise.all([upstream.cpuMs(), side.proxyCpuMs?.()]);
  const slice = await throughput(side.target, side.prefix + PATH, concurrency, durationMs);
  const clientUsed = process.cpuUsage(clientBefore);
  const [upstreamAfter, proxyAfter] = await Promise.all([upstream.cpuMs(), side.proxyCpuMs?.()]);
  const usPerRequest = (ms: number) => (ms * 1000) / slice.requests;
  return {
    rps: perSecond(slice),
    cost: {
      client: (clientUsed.user + clientUsed.system) / slice.requests,
      upstream: usPerRequest(upstreamAfter - upstreamBefore),
      proxy:
        proxyBefore === undefined || proxyAfter === undefined
          ? undefined
          : usPerRequest(proxyAfter - proxyBefore),
    },
  };
}

/** One request after another for `durationMs`: each one's latency (ms). */
async function latencies(target: Target, path: string, durationMs: number): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const samples: number[] = [];
  const deadline = performance.now() + durationMs;
  while (performance.now() < deadline && samples.length < 5_000_000) {
    const begin = performance.now();
    const status = await get(agent, target, path);
    samples.push(performance.now() - begin);
    if (status !== 200) throw new Error(`GET ${target.url}${path} answered ${status}`);
  }
  agent.destroy();
  return samples;
}

export const serveProxy: Scenario = {
  id: 'serve-proxy',
  title: '10. The daemon: requests through /proxy',
  async run(ctx: BenchContext): Promise<ScenarioResult> {
    const sizes = ctx.smoke
      ? { rounds: 1, sliceMs: 300, concurrency: 16, warmupMs: 100 }
      : { rounds: 5, sliceMs: 2_000, concurrency: 32, warmupMs: 1_000 };
    const rig = await startRig(ctx, 'serve-proxy.db');
    try {
      const direct: Target = { url: rig.upstream.url, authorization: `Bearer ${rig.token}` };
      const proxied: Target = { url: rig.daemon.url, authorization: `Bearer ${SERVE_SECRET}` };
      const bare = await startBareProxy(rig.upstream.url, `Bearer ${rig.token}`);
      const yardstick: Target = { url: bare.url, authorization: 'none' };
      // What a native proxy reaches on the same machine, where nginx is installed (Linux: its CPU comes from /proc).
      const nginx = process.platform === 'linux' ? findNginx() : undefined;
      let nativeFailure: string | undefined;
      const native = nginx
        ? await startNginxProxy(
            nginx,
            rig.upstream.url,
            `Bearer ${rig.token}`,
            mkdtempSync(join(ctx.tmpDir, 'nginx-')),
          ).catch((error: unknown) => {
            // A yardstick that cannot start leaves its column out; the daemon's figures stand.
            nativeFailure = error instanceof Error ? error.message : String(error);
            return undefined;
          })
        : undefined;
      const side = (target: Target, prefix: string, proxyCpuMs?: () => Promise<number>) => ({
        target,
        prefix,
        proxyCpuMs,
        rps: [] as number[],
        costs: [] as RequestCost[],
        ms: [] as number[],
        slowRps: [] as number[],
      });
      // Alternating slices: every side sees the same moments of a shared machine.
      const sides = [
        side(direct, ''),
        side(proxied, `/proxy/${CONNECTION}`, () => rig.daemon.cpuMs()),
        side(yardstick, '', () => bare.cpuMs()),
        ...(native ? [side({ url: native.url, authorization: 'none' }, '', () => native.cpuMs())] : []),
      ];
      try {
        for (const { target, prefix } of sides) {
          await throughput(target, prefix + PATH, sizes.concurrency, sizes.warmupMs);
        }
        for (let round = 0; round < sizes.rounds; round++) {
          for (const s of sides) {
            const { rps, cost } = await costedThroughput(s, rig.upstream, sizes.concurrency, sizes.sliceMs);
            s.rps.push(rps);
            s.costs.push(cost);
            s.ms.push(...(await latencies(s.target, s.prefix + PATH, sizes.sliceMs / 2)));
            const slow = await throughput(s.target, s.prefix + SLOW_PATH, sizes.concurrency, sizes.sliceMs);
            s.slowRps.push(perSecond(slow));
          }
        }
      } finally {
        await bare.stop();
        await native?.stop();
      }
      const [directSide, proxySide, bareSide, nativeSide] = sides as [
        (typeof sides)[number],
        (typeof sides)[number],
        (typeof sides)[number],
        (typeof sides)[number] | undefined,
      ];
      const ratio = median(proxySide.rps) / median(directSide.rps);
      const bareRatio = median(bareSide.rps) / median(directSide.rps);
      const slowRatio = median(proxySide.slowRps) / median(directSide.slowRps);
      const slowBareRatio = median(bareSide.slowRps) / median(directSide.slowRps);
      const nativeRatios = nativeSide
        ? [
            formatRatio(median(nativeSide.rps) / median(directSide.rps)),
            formatRatio(median(nativeSide.slowRps) / median(directSide.slowRps)),
          ]
        : [];
      const costOf = (of: (typeof sides)[number], part: keyof RequestCost) => {
        const values = of.costs.map((cost) => cost[part]).filter((us) => us !== undefined);
        return values.length > 0 ? median(values) : undefined;
      };
      // What the goal leaves a proxy: the machine's cores at 0.8x of the direct rate, less
      // what the client and the upstream spent per request when called directly.
      const cores = availableParallelism();
      const goalCpuUs = (cores * 1e6) / (PROXY_GOAL_RATIO * median(directSide.rps));
      const budgetUs =
        goalCpuUs - (costOf(directSide, 'client') ?? 0) - (costOf(directSide, 'upstream') ?? 0);
      const directP99 = quantile(directSide.ms, 0.99);
      const proxyP99 = quantile(proxySide.ms, 0.99);
      const added = proxyP99 - directP99;
      const column = (f: (side: (typeof sides)[number]) => string) => sides.map(f);
      return {
        id: this.id,
        title: this.title,
        method:
          'The upstream is the hot path’s minimal API (node:http in its own process; 200 for its Bearer token). ' +
          'One connection to it is saved in a SQLite store and a daemon (`startDaemon`, in a child process) is ' +
          'started on that store. Throughput: this process keeps ' +
          `${sizes.concurrency} GET requests in flight (node:http, keep-alive) for ${formatMs(sizes.sliceMs)}, ` +
          `straight to the upstream with its token, to /proxy/${CONNECTION}${PATH} with the daemon's ` +
          'secret, or through a bare node:http proxy (the yardstick: a fixed Authorization, no checks, no rules, ' +
          `in its own process)${nativeSide ? ', or through nginx (the native yardstick, see below)' : ''}, in turn, ` +
          `${sizes.rounds} slices each (medians); the same again for a path the ` +
          `upstream answers after ${formatMs(PROVIDER_TIME_MS)}. Latency: one request after ` +
          'another, in turn the same way; added p99 is the proxied p99 minus the direct p99. CPU per request: ' +
          'what each process used during the throughput slices (process.cpuUsage, the children asked before and ' +
          `after each slice), divided by the slice’s requests; medians. Everything shares ${cores} cores.`,
        tables: [
          {
            head: [
              'Measure',
              'Direct',
              'Through /proxy',
              'Bare node:http proxy',
              ...(nativeSide ? ['nginx, one worker'] : []),
            ],
            rows: [
              ['requests/s (median)', ...column((side) => formatCount(median(side.rps)))],
              [
                '… vs direct',
                '1.00×',
                formatRatio(ratio),
                formatRatio(bareRatio),
                ...nativeRatios.slice(0, 1),
              ],
              [
                `requests/s, the upstream answering in ${formatMs(PROVIDER_TIME_MS)}`,
                ...column((side) => formatCount(median(side.slowRps))),
              ],
              [
                '… vs direct',
                '1.00×',
                formatRatio(slowRatio),
                formatRatio(slowBareRatio),
                ...nativeRatios.slice(1),
              ],
              ['latency p50', ...column((side) => formatMs(quantile(side.ms, 0.5)))],
              ['latency p99', ...column((side) => formatMs(quantile(side.ms, 0.99)))],
              ['latency samples', ...column((side) => formatCount(side.ms.length))],
              [
                'CPU per request: the client (this process)',
                ...column((side) => formatUs(costOf(side, 'client'))),
              ],
              ['CPU per request: the upstream', ...column((side) => formatUs(costOf(side, 'upstream')))],
              ['CPU per request: the proxy', ...column((side) => formatUs(costOf(side, 'proxy')))],
            ],
          },
        ],
        goals: [
          {
            measure: 'proxy requests/s vs a direct request',
            goal: `≥ ${formatRatio(PROXY_GOAL_RATIO)}`,
            measured: formatRatio(ratio),
            met: ratio >= PROXY_GOAL_RATIO,
          },
          {
            measure: `proxy requests/s vs a direct request, the upstream answering in ${formatMs(PROVIDER_TIME_MS)}`,
            goal: `≥ ${formatRatio(PROXY_GOAL_RATIO)}`,
            measured: formatRatio(slowRatio),
            met: slowRatio >= PROXY_GOAL_RATIO,
          },
          {
            measure: 'proxy added p99 latency',
            goal: `< ${formatMs(PROXY_GOAL_ADDED_P99_MS)}`,
            measured: formatMs(added),
            met: added < PROXY_GOAL_ADDED_P99_MS,
          },
        ],
        notes: [
          'A proxied request is two HTTP exchanges on loopback (client → proxy → upstream) and three busy ' +
            `processes on ${cores} cores, where the direct one is one exchange between two: against an upstream that ` +
            'costs next to nothing, a proxy that reads each request to set its credential parses and writes ' +
            'every request and answer once more on each side, and that CPU comes out of the same cores. ' +
            'The bare proxy column is what node:http in and out reaches with nothing else to do; the daemon ' +
            'is measured against it as well.',
          `A provider's API takes time of its own to answer (Factus and Factorial: tens to hundreds of ms). ` +
            `With an upstream that answers after ${formatMs(PROVIDER_TIME_MS)} (a timer, no CPU), ` +
            `${sizes.concurrency} requests in flight reach at most ${formatCount((sizes.concurrency * 1000) / PROVIDER_TIME_MS)} a second ` +
            'straight to it, and the proxy’s CPU per request is no longer what bounds the rate: that row is ' +
            'what the proxy costs a program in use, the first is the proxy’s own ceiling on this machine. Both are goals here, ' +
            'measured apart.',
          `What the goal leaves a proxy on this machine: at ${formatRatio(PROXY_GOAL_RATIO)} of the direct rate, ` +
            `${cores} cores give ${formatUs(goalCpuUs)} of CPU per request. The client and the upstream spent ` +
            `${formatUs(costOf(directSide, 'client'))} and ${formatUs(costOf(directSide, 'upstream'))} of it when ` +
            `called directly, which leaves ${formatUs(budgetUs)} for the proxy, where the bare node:http proxy ` +
            `spent ${formatUs(costOf(bareSide, 'proxy'))} and the daemon ${formatUs(costOf(proxySide, 'proxy'))}. ` +
            'A proxy reads and writes each request and answer as the client and the upstream do together, ' +
            'so no proxy on node:http fits that budget. Per-request CPU also grows as the rate falls, since ' +
            'fewer requests share each wake-up: the upstream’s row shows it.',
          nativeSide
            ? `The nginx column is a native proxy doing the bare proxy's work (one worker process, keep-alive to the upstream, a fixed Authorization): ${formatUs(costOf(nativeSide, 'proxy'))} of CPU per request. ` +
              'It is what a proxy in front of the same upstream can reach on this machine when HTTP is not parsed and written in JavaScript. ' +
              'Its CPU is read from /proc in clock ticks of 10 ms.'
            : nativeFailure
              ? `nginx did not start, so the column of a native proxy is left out: ${nativeFailure}`
              : 'nginx is not installed here, so the column of a native proxy is left out (Debian: `apt-get install nginx-light`).',
          'The daemon forwards over node:http (keeper.forward) on a keep-alive agent, with the connection’s ' +
            'rules: the access secret is checked, the credential set, the rate-limit gate passed, a 401 or 429 ' +
            'answered, the request counted in /metrics.',
        ],
        data: {
          sizes,
          cores,
          budgetUs,
          directCosts: directSide.costs,
          proxyCosts: proxySide.costs,
          bareCosts: bareSide.costs,
          directRps: directSide.rps,
          proxyRps: proxySide.rps,
          bareRps: bareSide.rps,
          nativeCosts: nativeSide?.costs,
          nativeRps: nativeSide?.rps,
          providerTimeMs: PROVIDER_TIME_MS,
          slowDirectRps: directSide.slowRps,
          slowProxyRps: proxySide.slowRps,
          slowBareRps: bareSide.slowRps,
          slowRatio,
          directP99,
          proxyP99,
          ratio,
          bareRatio,
        },
      };
    } finally {
      await rig.close();
    }
  },
};

export const serveToken: Scenario = {
  id: 'serve-token',
  title: '11. The daemon: the token endpoint',
  async run(ctx: BenchContext): Promise<ScenarioResult> {
    const sizes = ctx.smoke ? { warmupMs: 100, measureMs: 500 } : { warmupMs: 1_000, measureMs: 10_000 };
    const rig = await startRig(ctx, 'serve-token.db');
    try {
      const target: Target = { url: rig.daemon.url, authorization: `Bearer ${SERVE_SECRET}` };
      const path = `/v1/connections/${CONNECTION}/token`;
      await latencies(target, path, sizes.warmupMs);
      const samples = await latencies(target, path, sizes.measureMs);
      const p99 = quantile(samples, 0.99);
      return {
        id: this.id,
        title: this.title,
        method:
          'One connection in a SQLite store, a daemon (`startDaemon`, in a child process) on it. This process ' +
          `asks GET /v1/connections/${CONNECTION}/token with the daemon's secret one request after another ` +
          `(node:http, keep-alive) for ${formatMs(sizes.measureMs)} after a ${formatMs(sizes.warmupMs)} warm-up; ` +
          'latency is from sending the request to the end of the answer’s body, as the caller sees it.',
        tables: [
          {
            head: ['Measure', 'Value'],
            rows: [
              ['requests', formatCount(samples.length)],
              ['requests/s (one at a time)', formatCount((samples.length / sizes.measureMs) * 1000)],
              ['latency p50', formatMs(quantile(samples, 0.5))],
              ['latency p90', formatMs(quantile(samples, 0.9))],
              ['latency p99', formatMs(p99)],
              ['latency max', formatMs(maximum(samples))],
            ],
          },
        ],
        goals: [
          {
            measure: 'GET /v1/connections/{name}/token p99',
            goal: `< ${formatMs(TOKEN_GOAL_P99_MS)}`,
            measured: formatMs(p99),
            met: p99 < TOKEN_GOAL_P99_MS,
          },
        ],
        notes: [],
        data: { sizes, requests: samples.length, p50: quantile(samples, 0.5), p99 },
      };
    } finally {
      await rig.close();
    }
  },
};
