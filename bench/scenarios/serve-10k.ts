/**
 * 7. The daemon keeps 10,000 connections with 30-second access tokens fresh: refresh lag,
 * expired tokens handed to callers, the daemon's CPU and RSS.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { API_PATH } from '../lib/factus.js';
import type { ScenarioResult } from '../lib/report.js';
import type { BenchContext, Scenario } from '../lib/scenario.js';
import {
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
  tokenMs: number[];
}

export const serve10k: Scenario = {
  id: 'serve-10k',
  title: '7. The daemon: 10,000 connections with 30-second tokens',
  async run(ctx: BenchContext): Promise<ScenarioResult> {
    const sizes = ctx.smoke
      ? { connections: 50, ttlSeconds: 6, measureMs: 8_000 }
      : { connections: 10_000, ttlSeconds: 30, measureMs: 180_000 };
    const settings = { concurrency: 64, tokenRequestsPerSecond: 2_000 };
    const env = serveEnv();
    const storePath = join(ctx.tmpDir, 'serve-10k.db');
    const factus = await startFactusServer(sizes.ttlSeconds);
    try {
      ctx.log(`  seeding ${formatCount(sizes.connections)} connections`);
      const seedMs = await seedFactusConnections({
        location: storePath,
        env,
        emulator: factus,
        count: sizes.connections,
        ownTokens: true,
        bulkSqlitePath: storePath,
      });
      const daemon = await startDaemonChild({ store: storePath, ...settings }, env);
      let callers: CallerFigures;
      let stats: Awaited<ReturnType<typeof daemon.stats>>;
      try {
        await daemon.reset();
        ctx.log(`  measuring for ${formatMs(sizes.measureMs)}`);
        callers = await sampleTokens(daemon.url, factus.url, sizes.connections, sizes.measureMs);
        stats = await daemon.stats();
      } finally {
        await daemon.stop();
      }
      const emulator = await factus.stats();
      const refreshesPerSecond = (stats.refreshes / stats.elapsedMs) * 1000;
      const cpuPercent = (stats.cpuMs / stats.elapsedMs) * 100;
      const tokenP99 = quantile(callers.tokenMs, 0.99);
      return {
        id: this.id,
        title: this.title,
        method:
          `${formatCount(sizes.connections)} Factus connections, each with tokens of its own from a password grant ` +
          `at the emulator (${sizes.ttlSeconds}-second access tokens, strict rotation, its own process), are written ` +
          'into one SQLite store (sealed by ConnectionRepository, inserted in one transaction). One daemon ' +
          '(`startDaemon`, in a child process) keeps them fresh with ' +
          `--concurrency ${settings.concurrency} and --rate ${settings.tokenRequestsPerSecond} (the defaults, 16 and ` +
          '20 a second, cannot keep up with ~750 refreshes a second). ' +
          `Measured for ${formatMs(sizes.measureMs)} from the daemon's start (the issue says 5 minutes; shortened ` +
          'to keep the whole run within its budget). A caller asks GET /v1/connections/{name}/token for random ' +
          'names one after another and checks each answer’s expires_at; every tenth token is also used on an API ' +
          'route at the emulator. Refresh lag: when a scheduled refresh starts minus the due time the daemon ' +
          'had scheduled for it. CPU and RSS are the daemon process’s own.',
        tables: [
          {
            head: ['Measure', 'Value'],
            rows: [
              ['connections', formatCount(sizes.connections)],
              ['seeding (password grants + sealed rows in one transaction)', formatMs(seedMs)],
              ['daemon start to a full schedule', formatMs(daemon.startMs)],
              ['refreshes (refresh_token grants)', formatCount(stats.refreshes)],
              ['refreshes per second', formatCount(refreshesPerSecond)],
              ['password logins instead of a refresh', formatCount(stats.tokens)],
              ['failed refreshes', formatCount(stats.failed)],
              ['refresh lag p50', formatMs(stats.lagP50)],
              ['refresh lag p99', formatMs(stats.lagP99)],
              ['refresh lag max', formatMs(stats.lagMax)],
              ['emulator invalid_grant answers', formatCount(emulator.invalidGrant)],
              ['caller /token requests', formatCount(callers.calls)],
              ['… answered with an expired token', formatCount(callers.expired)],
              ['… answered with an error', formatCount(callers.errors)],
              ['… tokens refused by the emulator (of checked)', `${callers.refused} of ${callers.checked}`],
              ['caller /token p99', formatMs(tokenP99)],
              ['daemon CPU (one core = 100 %)', `${cpuPercent.toFixed(0)} %`],
              ['daemon RSS at the end', formatBytes(stats.rss)],
            ],
          },
        ],
        goals: [
          {
            measure: 'expired-token errors for callers',
            goal: '0',
            measured: formatCount(callers.expired + callers.refused + callers.errors),
            met: callers.expired + callers.refused + callers.errors === 0,
          },
          {
            measure: 'refresh lag p99',
            goal: '< 1 s',
            measured: formatMs(stats.lagP99),
            met: stats.lagP99 < 1000,
          },
        ],
        notes: [
          `Daemon CPU ${cpuPercent.toFixed(0)} % of one core and RSS ${formatBytes(stats.rss)} while refreshing ` +
            `${formatCount(refreshesPerSecond)} connections a second, on the same 2 cores as the emulator and the caller.`,
        ],
        data: {
          sizes,
          settings,
          seedMs,
          startMs: daemon.startMs,
          stats,
          emulator,
          callers: { ...callers, tokenMs: undefined, tokenP99 },
        },
      };
    } finally {
      await factus.stop();
    }
  },
};

async function sampleTokens(
  daemonUrl: string,
  factusUrl: string,
  connections: number,
  durationMs: number,
): Promise<CallerFigures> {
  const figures: CallerFigures = { calls: 0, expired: 0, errors: 0, checked: 0, refused: 0, tokenMs: [] };
  const deadline = performance.now() + durationMs;
  const headers = { authorization: `Bearer ${SERVE_SECRET}` };
  while (performance.now() < deadline && figures.calls < 1_000_000) {
    const name = serveConnectionName(Math.floor(Math.random() * connections));
    const begin = performance.now();
    const response = await fetch(`${daemonUrl}/v1/connections/${name}/token`, { headers });
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
      });
      await api.arrayBuffer();
      if (api.status === 401) figures.refused++;
    }
    // About 200 callers' requests a second: a sample, not a load test of the daemon.
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return figures;
}
