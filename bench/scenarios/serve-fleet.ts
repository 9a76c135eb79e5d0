/**
 * 9. Three daemons on one shared store (PostgreSQL, then Redis): how the refreshes split,
 * and that no refresh token is used twice.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { sleep } from '../lib/measure.js';
import type { ScenarioResult } from '../lib/report.js';
import type { BenchContext, Scenario } from '../lib/scenario.js';
import {
  type DaemonChild,
  type DaemonStats,
  deleteRedisKeys,
  seedFactusConnections,
  serveEnv,
  startDaemonChild,
  startFactusServer,
} from '../lib/serve.js';
import { formatCount, formatMs } from '../lib/stats.js';

const PG_URL = process.env.TOKENKEEPER_TEST_PG_URL || 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.TOKENKEEPER_TEST_REDIS_URL || 'redis://127.0.0.1:6379';
const DAEMONS = 3;
/** "About a third": each daemon's share of the refreshes within this many points of 1/3. */
const SHARE_TOLERANCE = 0.1;

interface BackendFigures {
  backend: string;
  connections: number;
  measuredMs: number;
  daemons: DaemonStats[];
  /** Emulator counters over the measured time. */
  refreshGrants: number;
  passwordGrants: number;
  invalidGrant: number;
}

interface Backend {
  name: string;
  location: string;
  cleanup(): Promise<void>;
}

function postgresBackend(): Backend {
  const schema = `tk_bench_fleet_${process.pid}_${randomBytes(4).toString('hex')}`;
  return {
    name: 'PostgreSQL',
    location: `${PG_URL}?schema=${schema}`,
    async cleanup() {
      const admin = new pg.Client({ connectionString: PG_URL });
      await admin.connect();
      try {
        await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await admin.end();
      }
    },
  };
}

function redisBackend(): Backend {
  const prefix = `tk_bench_fleet_${process.pid}_${randomBytes(4).toString('hex')}:`;
  return {
    name: 'Redis',
    location: `${REDIS_URL}?prefix=${encodeURIComponent(prefix)}`,
    cleanup: () => deleteRedisKeys(REDIS_URL, prefix),
  };
}

export const serveFleet: Scenario = {
  id: 'serve-fleet',
  title: '9. The daemon: three daemons on one PostgreSQL or Redis store',
  async run(ctx: BenchContext): Promise<ScenarioResult> {
    const sizes = ctx.smoke
      ? { connections: 30, ttlSeconds: 6, measureMs: 8_000 }
      : { connections: 1_000, ttlSeconds: 30, measureMs: 60_000 };
    const figures: BackendFigures[] = [];
    for (const backend of [postgresBackend(), redisBackend()]) {
      ctx.log(`  ${backend.name}`);
      try {
        figures.push(await runFleet(backend, sizes));
      } finally {
        await backend.cleanup();
      }
    }
    const shareOf = (f: BackendFigures, d: DaemonStats) =>
      d.refreshes /
      Math.max(
        1,
        sum(f.daemons, (x) => x.refreshes),
      );
    // Strict rotation: a refresh token presented again is refused, so every reuse is an invalid_grant.
    const duplicates = (f: BackendFigures) => f.invalidGrant;
    return {
      id: this.id,
      title: this.title,
      method:
        `${formatCount(sizes.connections)} Factus connections, each with tokens of its own from a password grant ` +
        `at the emulator (${sizes.ttlSeconds}-second access tokens, strict rotation: a refresh token used twice ` +
        'gets invalid_grant), are saved in the shared store; then three daemons (`startDaemon`, each in its own ' +
        'process, the default --concurrency 16 and --rate raised to 200 a second) share its due index. ' +
        `Measured for ${formatMs(sizes.measureMs)} per backend (shortened from the issue’s open-ended run to ` +
        'fit the budget): refreshes each daemon made, and at the emulator the refresh_token grants, the ' +
        'invalid_grant answers and the password logins over the same time.',
      tables: figures.map((f) => ({
        caption: `${f.backend}, ${formatCount(f.connections)} connections, ${formatMs(f.measuredMs)}:`,
        head: ['Daemon', 'refreshes', 'share', 'adopted', 'failed', 'lag p99', 'CPU'],
        rows: [
          ...f.daemons.map((d, i) => [
            `daemon ${i + 1}`,
            formatCount(d.refreshes),
            `${(shareOf(f, d) * 100).toFixed(0)} %`,
            formatCount(d.adopted),
            formatCount(d.failed),
            formatMs(d.lagP99),
            `${((d.cpuMs / d.elapsedMs) * 100).toFixed(0)} %`,
          ]),
          [
            'emulator',
            `${formatCount(f.refreshGrants)} refresh_token grants`,
            '-',
            `${formatCount(f.passwordGrants)} password grants`,
            `${formatCount(f.invalidGrant)} invalid_grant`,
            '-',
            '-',
          ],
        ],
      })),
      goals: figures.flatMap((f) => [
        {
          measure: `${f.backend}: each daemon’s share of the refreshes`,
          goal: `about a third (${((1 / 3 - SHARE_TOLERANCE) * 100).toFixed(0)}–${((1 / 3 + SHARE_TOLERANCE) * 100).toFixed(0)} %)`,
          measured: f.daemons.map((d) => `${(shareOf(f, d) * 100).toFixed(0)} %`).join(' / '),
          met: f.daemons.every((d) => Math.abs(shareOf(f, d) - 1 / 3) <= SHARE_TOLERANCE),
        },
        {
          measure: `${f.backend}: duplicate token requests`,
          goal: '0',
          measured: formatCount(duplicates(f)),
          met: duplicates(f) === 0 && f.passwordGrants === 0,
        },
      ]),
      notes: [
        'Duplicates are the invalid_grant answers: under strict rotation a refresh token presented a second ' +
          'time is refused, so each reuse shows there; a password grant during the run would mean a refresh ' +
          'token was lost. The emulator’s refresh_token grants and the daemons’ counted refreshes can differ by ' +
          'the few refreshes in flight when the window opened or closed (the counters are read one after another).',
      ],
      data: { sizes, figures },
    };
  },
};

async function runFleet(
  backend: Backend,
  sizes: { connections: number; ttlSeconds: number; measureMs: number },
): Promise<BackendFigures> {
  const env = serveEnv();
  const factus = await startFactusServer(sizes.ttlSeconds);
  const daemons: DaemonChild[] = [];
  try {
    await seedFactusConnections({
      location: backend.location,
      env,
      emulator: factus,
      count: sizes.connections,
      ownTokens: true,
    });
    for (let i = 0; i < DAEMONS; i++) {
      daemons.push(await startDaemonChild({ store: backend.location, tokenRequestsPerSecond: 200 }, env));
    }
    const before = await factus.stats();
    await Promise.all(daemons.map((d) => d.reset()));
    await sleep(sizes.measureMs);
    const stats = await Promise.all(daemons.map((d) => d.stats()));
    const after = await factus.stats();
    return {
      backend: backend.name,
      connections: sizes.connections,
      measuredMs: sizes.measureMs,
      daemons: stats,
      refreshGrants: (after.tokenRequests.refresh_token ?? 0) - (before.tokenRequests.refresh_token ?? 0),
      passwordGrants: (after.tokenRequests.password ?? 0) - (before.tokenRequests.password ?? 0),
      invalidGrant: after.invalidGrant - before.invalidGrant,
    };
  } finally {
    await Promise.all(daemons.map((d) => d.stop()));
    await factus.stop();
  }
}

function sum<T>(items: readonly T[], of: (item: T) => number): number {
  return items.reduce((total, item) => total + of(item), 0);
}
