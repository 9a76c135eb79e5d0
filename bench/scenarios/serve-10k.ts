/**
 * 7. The daemon keeps 10,000 connections with 30-second access tokens fresh: refresh lag,
 * expired tokens handed to callers, the daemon's CPU and RSS.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EmulatorStats } from '../../src/emulators/index.js';
import { API_PATH } from '../lib/factus.js';
import type { ScenarioResult } from '../lib/report.js';
import type { BenchContext, Scenario } from '../lib/scenario.js';
import {
  type DaemonStats,
  deleteRedisKeys,
  SERVE_SECRET,
  seedFactusConnections,
  serveConnectionName,
  serveEnv,
  startDaemonChild,
  startFactusServer,
} from '../lib/serve.js';
import { formatBytes, formatCount, formatMs, quantile } from '../lib/stats.js';

interface CallerFigures {
  calls: number;
  /** /token answers whose expires_at had passed when they arrived. */
  expired: number;
  /** /token answers other than 200. */
  errors: number;
  /** Tokens checked at the emulator (an authenticated API call), and how many it refused. */
  checked: number;
  refused: number;
  /** Refused tokens the daemon replaced within a second of the refusal (a rotation). */
  refusedAfterRotation: number;
  tokenMs: number[];
}

const REDIS_URL = process.env.TOKENKEEPER_TEST_REDIS_URL || 'redis://127.0.0.1:6379';

interface StoreRun {
  store: string;
  seedMs: number;
  stats: DaemonStats;
  emulator: EmulatorStats;
  callers: CallerFigures;
}

export const serve10k: Scenario = {
  id: 'serve-10k',
  title: '7. The daemon: 10,000 connections with 30-second tokens',
  async run(ctx: BenchContext): Promise<ScenarioResult> {
    const sizes = ctx.smoke
      ? { connections: 50, ttlSeconds: 6, measureMs: 8_000 }
      : { connections: 10_000, ttlSeconds: 30, measureMs: 300_000 };
    const settings = { concurrency: 64, tokenRequestsPerSecond: 2_000 };
    const prefix = `tk_bench_10k_${process.pid}_${randomBytes(4).toString('hex')}:`;
    const stores = [
      {
        store: 'SQLite',
        location: join(ctx.tmpDir, 'serve-10k.db'),
        // Batches in one transaction: row by row, the seeding would keep the daemon waiting on SQLite's write lock.
        bulkSqlitePath: join(ctx.tmpDir, 'serve-10k.db'),
        cleanup: async () => {},
      },
      {
        store: 'Redis',
        location: `${REDIS_URL}?prefix=${encodeURIComponent(prefix)}`,
        cleanup: () => deleteRedisKeys(REDIS_URL, prefix),
      },
    ];
    const runs: StoreRun[] = [];
    for (const store of stores) {
      ctx.log(`  ${store.store}`);
      try {
        runs.push(await runOne(ctx, store, sizes, settings));
      } finally {
        await store.cleanup();
      }
    }
    // A token revoked by a rotation after it was handed out had not expired: Factus revokes the
    // access token a refresh replaces, and a caller asks again on its 401 (see the README).
    const bad = (r: StoreRun) =>
      r.callers.expired + r.callers.errors + (r.callers.refused - r.callers.refusedAfterRotation);
    const cpu = (r: StoreRun) => `${((r.stats.cpuMs / r.stats.elapsedMs) * 100).toFixed(0)} %`;
    const perSecond = (r: StoreRun) => (r.stats.refreshes / r.stats.elapsedMs) * 1000;
    const column = (f: (r: StoreRun) => string) => runs.map(f);
    return {
      id: this.id,
      title: this.title,
      method:
        `${formatCount(sizes.connections)} Factus connections, each with tokens of its own from a password grant ` +
        `at the emulator (${sizes.ttlSeconds}-second access tokens, strict rotation, its own process), are saved ` +
        'in a store (SQLite: sealed by ConnectionRepository, each half second’s logins inserted in one ' +
        'transaction; Redis: saved through ConnectionRepository), SQLite then Redis, while one daemon (`startDaemon`, in a child ' +
        `process, started on the empty store) runs with --concurrency ${settings.concurrency} and --rate ` +
        `${settings.tokenRequestsPerSecond} (the defaults, 16 and 20 a second, cannot keep up with the ~740 ` +
        'refreshes a second this needs). The logins are spread evenly over one refresh interval ' +
        `(${formatMs(refreshIntervalMs(sizes.ttlSeconds))}), as in a store whose connections logged in at ` +
        'different times; the daemon picks each one up from the store as it appears. Measured for ' +
        `${formatMs(sizes.measureMs)} per store once the last login is saved. A caller asks GET ` +
        '/v1/connections/{name}/token for random names one after another (about 200 a second at most) and checks ' +
        'each answer’s expires_at; every tenth token is also used on an API route at the emulator. Refresh lag: ' +
        'when a scheduled refresh starts minus the due time the daemon had scheduled for it. CPU and RSS are the ' +
        'daemon process’s own.',
      tables: [
        {
          head: ['Measure', ...runs.map((r) => r.store)],
          rows: [
            ['seeding (logins spread over one refresh interval)', ...column((r) => formatMs(r.seedMs))],
            ['refreshes (refresh_token grants)', ...column((r) => formatCount(r.stats.refreshes))],
            ['refreshes per second', ...column((r) => formatCount(perSecond(r)))],
            ['password logins instead of a refresh', ...column((r) => formatCount(r.stats.tokens))],
            ['failed refreshes', ...column((r) => formatCount(r.stats.failed))],
            ['refresh lag p50', ...column((r) => formatMs(r.stats.lagP50))],
            ['refresh lag p99', ...column((r) => formatMs(r.stats.lagP99))],
            ['refresh lag max', ...column((r) => formatMs(r.stats.lagMax))],
            ['daemon event-loop delay p99', ...column((r) => formatMs(r.stats.loopDelayP99))],
            ['emulator invalid_grant answers', ...column((r) => formatCount(r.emulator.invalidGrant))],
            ['caller /token requests', ...column((r) => formatCount(r.callers.calls))],
            ['… answered with an expired token', ...column((r) => formatCount(r.callers.expired))],
            ['… answered with an error', ...column((r) => formatCount(r.callers.errors))],
            [
              '… tokens refused by the emulator',
              ...column((r) => `${r.callers.refused} of ${r.callers.checked}`),
            ],
            [
              '… of them revoked by a rotation (replaced within 1 s)',
              ...column((r) => formatCount(r.callers.refusedAfterRotation)),
            ],
            ['caller /token p99', ...column((r) => formatMs(quantile(r.callers.tokenMs, 0.99)))],
            ['daemon CPU (one core = 100 %)', ...column(cpu)],
            ['daemon RSS at the end', ...column((r) => formatBytes(r.stats.rss))],
          ],
        },
      ],
      goals: runs.flatMap((r) => [
        {
          measure: `${r.store}: expired-token errors for callers`,
          goal: '0',
          measured: formatCount(bad(r)),
          met: bad(r) === 0,
        },
        {
          measure: `${r.store}: refresh lag p99`,
          goal: '< 1 s',
          measured: formatMs(r.stats.lagP99),
          met: r.stats.lagP99 < 1000,
        },
      ]),
      notes: [
        ...runs.map(
          (r) =>
            `${r.store}: daemon CPU ${cpu(r)} of one core, RSS ${formatBytes(r.stats.rss)}, ` +
            `${formatCount(perSecond(r))} refreshes a second (${formatMs(r.stats.cpuMs / Math.max(1, r.stats.refreshes))} ` +
            'of daemon CPU each, everything a refresh and its schedule cost included), on the same 2 cores as ' +
            'the emulator, the store and the caller.',
        ),
        'A token refused by the emulator that the daemon replaced within a second (the caller asks again every ' +
          '100 ms) was handed out just before a refresh began: Factus (strict rotation) revokes the previous ' +
          'access token as soon as the refresh token is used, so a caller still holding it meets a 401 although it ' +
          'had not expired. While a refresh runs, the daemon answers /token with the new token once it is back.',
        `With ${sizes.ttlSeconds}-second tokens each connection comes due every ${formatMs(400 * sizes.ttlSeconds)} to ` +
          `${formatMs(500 * sizes.ttlSeconds)} (the library's margin is half a short lifetime, minus up to a fifth of it ` +
          `as jitter): about ${formatCount(sizes.connections / (0.45 * sizes.ttlSeconds))} refreshes a second. ` +
          'A daemon that cannot keep that pace falls behind steadily, and the lag grows with the measuring time. ' +
          'Logging every connection in at once instead (as fast as the emulator allows, about twice that pace) ' +
          'makes all their first refreshes come due within a few seconds: a backlog that a daemon works off ' +
          'at its own pace, not the steady state this measures.',
        'On SQLite the rotated tokens of a refresh are committed with an fsync (synchronous = FULL, so a ' +
          'rotation survives a power cut); the refreshes that finish in the same turn of the event loop share ' +
          'one commit (group commit), and the lock is taken and released on a second connection without one. ' +
          'better-sqlite3 blocks the event loop during each commit.',
      ],
      data: {
        sizes,
        settings,
        runs: runs.map((r) => ({
          ...r,
          callers: { ...r.callers, tokenMs: undefined, tokenP99: quantile(r.callers.tokenMs, 0.99) },
        })),
      },
    };
  },
};

async function runOne(
  ctx: BenchContext,
  store: { store: string; location: string; bulkSqlitePath?: string },
  sizes: { connections: number; ttlSeconds: number; measureMs: number },
  settings: { concurrency: number; tokenRequestsPerSecond: number },
): Promise<StoreRun> {
  const env = serveEnv();
  const factus = await startFactusServer(sizes.ttlSeconds);
  try {
    const daemon = await startDaemonChild({ store: store.location, ...settings }, env);
    let seedMs: number;
    let callers: CallerFigures;
    let stats: DaemonStats;
    try {
      const spreadOverMs = refreshIntervalMs(sizes.ttlSeconds);
      ctx.log(`  seeding ${formatCount(sizes.connections)} connections over ${formatMs(spreadOverMs)}`);
      seedMs = await seedFactusConnections({
        location: store.location,
        env,
        emulator: factus,
        count: sizes.connections,
        ownTokens: true,
        spreadOverMs,
        ...(store.bulkSqlitePath ? { bulkSqlitePath: store.bulkSqlitePath } : {}),
      });
      await daemon.reset();
      ctx.log(`  measuring for ${formatMs(sizes.measureMs)}`);
      callers = await sampleTokens(daemon.url, factus.url, sizes.connections, sizes.measureMs);
      stats = await daemon.stats();
    } finally {
      await daemon.stop();
    }
    return { store: store.store, seedMs, stats, emulator: await factus.stats(), callers };
  } finally {
    await factus.stop();
  }
}

/**
 * The mean time between two refreshes of one connection: the library refreshes a short-lived
 * token when half its lifetime is left, up to a fifth of that earlier at random (so at 40 % to
 * 50 % of its lifetime).
 */
function refreshIntervalMs(ttlSeconds: number): number {
  return 450 * ttlSeconds;
}

async function sampleTokens(
  daemonUrl: string,
  factusUrl: string,
  connections: number,
  durationMs: number,
): Promise<CallerFigures> {
  const figures: CallerFigures = {
    calls: 0,
    expired: 0,
    errors: 0,
    checked: 0,
    refused: 0,
    refusedAfterRotation: 0,
    tokenMs: [],
  };
  const deadline = performance.now() + durationMs;
  const headers = { authorization: `Bearer ${SERVE_SECRET}` };
  while (performance.now() < deadline && figures.calls < 1_000_000) {
    const name = serveConnectionName(Math.floor(Math.random() * connections));
    const begin = performance.now();
    const response = await fetch(`${daemonUrl}/v1/connections/${name}/token`, {
      headers,
      signal: AbortSignal.timeout(STALLED_CALL_MS),
    });
    const body = (await response.json()) as { access_token?: string; expires_at?: string | null };
    figures.tokenMs.push(performance.now() - begin);
    figures.calls++;
    if (response.status !== 200 || !body.access_token) {
      figures.errors++;
      continue;
    }
    if (body.expires_at && Date.parse(body.expires_at) <= Date.now()) figures.expired++;
    if (figures.calls % 10 === 0) {
      figures.checked++;
      const api = await fetch(`${factusUrl}${API_PATH}`, {
        headers: { authorization: `Bearer ${body.access_token}`, accept: 'application/json' },
        signal: AbortSignal.timeout(STALLED_CALL_MS),
      });
      await api.arrayBuffer();
      if (api.status === 401) {
        figures.refused++;
        // Was it replaced? Strict rotation revokes an access token when its refresh token is used,
        // before the new tokens are back: a refresh in flight replaces it within moments.
        if (await replacedSoon(daemonUrl, headers, name, body.access_token)) figures.refusedAfterRotation++;
      }
    }
    // About 200 callers' requests a second: a sample, not a load test of the daemon.
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return figures;
}

/** A call the daemon or the emulator leaves unanswered this long fails the run instead of stalling it. */
const STALLED_CALL_MS = 10_000;

/** Whether the daemon hands out another token than `refused` within a second (asked every 100 ms). */
async function replacedSoon(
  daemonUrl: string,
  headers: Record<string, string>,
  name: string,
  refused: string,
): Promise<boolean> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const again = await fetch(`${daemonUrl}/v1/connections/${name}/token`, {
      headers,
      signal: AbortSignal.timeout(STALLED_CALL_MS),
    });
    const current = (await again.json()) as { access_token?: string };
    if (current.access_token !== refused) return true;
    await sleep(100);
  }
  return false;
}
