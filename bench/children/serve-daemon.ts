/**
 * One daemon (`startDaemon`, as `tokenkeeper serve` runs it) in its own process, for the
 * serve-* scenarios. Run with --expose-gc. argv: one JSON object
 * `{ store, concurrency?, tokenRequestsPerSecond?, watchIntervalMs?, lifetimeMs? }`; the
 * store's key and the access secret come from the environment (TOKENKEEPER_KEY,
 * TOKENKEEPER_SERVE_SECRET).
 *
 * Prints `{"url","pid","startMs"}` once the daemon listens (startMs: from the call to
 * startDaemon until it resolved, which is after every connection was read and scheduled).
 * Then answers lines on stdin with one JSON line each:
 *   stats  refreshes done, failures, refresh lag quantiles, event-loop delay p99, CPU used, RSS (after a GC),
 *          how many connections are scheduled
 *   reset  starts the counters, the lag list and the CPU figure again
 *   cpu    `{"cpuMs"}`: the CPU this process has used since it started, without a GC or a reset
 * and closes the daemon (gracefully) when stdin ends, or after its lifetime.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { startDaemon } from '../../src/serve/daemon.js';
import { processCpuMs } from '../lib/serve-child.js';
import { maximum, quantile } from '../lib/stats.js';
import { benchProfile } from '../peers/tokenkeeper.js';

interface DaemonChildOptions {
  store: string;
  concurrency?: number;
  tokenRequestsPerSecond?: number;
  watchIntervalMs?: number;
  lifetimeMs?: number;
  /** Know Factus as the bench's peers do, without its client-side rate limit (see bench/peers). */
  benchProfile?: boolean;
}

const options = JSON.parse(process.argv[2] ?? '{}') as DaemonChildOptions;
const collect = (globalThis as { gc?: () => void }).gc;

const begin = performance.now();
const daemon = await startDaemon({
  store: options.store,
  concurrency: options.concurrency,
  tokenRequestsPerSecond: options.tokenRequestsPerSecond,
  watchIntervalMs: options.watchIntervalMs,
  ...(options.benchProfile ? { keeper: { providers: [benchProfile] } } : {}),
});
const startMs = performance.now() - begin;

// Refresh lag: when a scheduled refresh starts, minus the due time the daemon scheduled.
let lags: number[] = [];
let refreshes = 0;
let tokens = 0;
let adopted = 0;
let failed = 0;
let cpu = process.cpuUsage();
let since = performance.now();
// How long work waited for the event loop: what every refresh, claim and caller shares.
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();
const keeper = daemon.keeper;
const refresh = keeper.refresh.bind(keeper);
keeper.refresh = (name, refreshOptions) => {
  const dueAt = daemon.keepAlive.get(name)?.dueAt;
  if (dueAt !== undefined) lags.push(Date.now() - dueAt);
  return refresh(name, refreshOptions);
};
keeper.on('refresh', () => refreshes++);
keeper.on('token', () => tokens++);
keeper.on('adopt', () => adopted++);
keeper.on('refresh_failed', () => failed++);

process.stdout.write(`${JSON.stringify({ url: daemon.url, pid: process.pid, startMs })}\n`);

function stats() {
  const used = process.cpuUsage(cpu);
  const elapsedMs = performance.now() - since;
  collect?.();
  const memory = process.memoryUsage();
  let scheduled = 0;
  const connections = daemon.keepAlive.connections();
  for (const c of connections) if (c.dueAt !== undefined) scheduled++;
  return {
    refreshes,
    tokens,
    adopted,
    failed,
    lagCount: lags.length,
    lagP50: quantile(lags, 0.5),
    lagP99: quantile(lags, 0.99),
    lagMax: maximum(lags),
    loopDelayP99: loopDelay.percentile(99) / 1e6,
    cpuMs: (used.user + used.system) / 1000,
    elapsedMs,
    rss: memory.rss,
    heapUsed: memory.heapUsed,
    connections: connections.length,
    scheduled,
  };
}

let closing = false;
const close = async () => {
  if (closing) return;
  closing = true;
  await daemon.close().catch(() => undefined);
  process.exit(0);
};
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (line === 'stats') process.stdout.write(`${JSON.stringify(stats())}\n`);
  else if (line === 'cpu') process.stdout.write(`${JSON.stringify({ cpuMs: processCpuMs() })}\n`);
  else if (line === 'reset') {
    lags = [];
    refreshes = tokens = adopted = failed = 0;
    cpu = process.cpuUsage();
    since = performance.now();
    loopDelay.reset();
    process.stdout.write('ok\n');
  }
});
lines.on('close', () => void close());
setTimeout(() => void close(), options.lifetimeMs ?? 30 * 60_000).unref();
