/**
 * 6. Scale: a SQLite store with many connections. Store writes and reads per
 * second, what the keeper holds per connection, and `tokenkeeper status` wall time.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { runTimed } from '../lib/child.js';
import { CLI_MAIN, cliEnv } from '../lib/cli.js';
import { measureKeeperMemory } from '../lib/keeper-memory.js';
import { measureSequentialRate } from '../lib/measure.js';
import { connectionName, prepareStore } from '../lib/prepared-store.js';
import type { ScenarioResult } from '../lib/report.js';
import type { BenchContext, Scenario } from '../lib/scenario.js';
import { formatBytes, formatCount, formatMs, median } from '../lib/stats.js';

interface ScaleFigures {
  connections: number;
  writesPerSecond: number;
  readsPerSecond: number;
  rawReadsPerSecond: number;
  listMs: number;
  listInfoMs: number;
  fileBytes: number;
  heapPerConnection: number;
  rssPerConnection: number;
  statusMs: number[];
  statusOutputBytes: number;
}

export const scale: Scenario = {
  id: 'scale',
  title: '6. Scale: many connections in one SQLite store',
  async run(ctx: BenchContext): Promise<ScenarioResult> {
    const sizes = ctx.smoke
      ? { counts: [500], readMs: 100, statusRounds: 1, rateMs: 100 }
      : { counts: [10_000, 100_000], readMs: 1000, statusRounds: 3, rateMs: 500 };
    const figures: ScaleFigures[] = [];
    for (const count of sizes.counts) {
      ctx.log(`  ${formatCount(count)} connections`);
      figures.push(await measureScale(join(ctx.tmpDir, `scale-${count}.db`), count, sizes));
    }
    return {
      id: this.id,
      title: this.title,
      method:
        'Rows are written one by one through ConnectionRepository.save (seal the secrets with AES-256-GCM, then ' +
        'the store’s compare-and-set put), each a copy of one real Factus login under its own name. Reads: random ' +
        'names through ConnectionRepository.load (row + decrypt) and through store.get (row only), one after ' +
        'another. Memory: a separate process opens the store and takes every connection’s token once. ' +
        '`tokenkeeper status` is spawned with TOKENKEEPER_STORE pointing at the file, its output drained.',
      tables: [
        {
          head: ['Measure', ...figures.map((f) => `${formatCount(f.connections)} connections`)],
          rows: [
            ['store writes/s (seal + CAS put)', ...figures.map((f) => formatCount(f.writesPerSecond))],
            ['store reads/s (get + decrypt)', ...figures.map((f) => formatCount(f.readsPerSecond))],
            ['store reads/s (get only)', ...figures.map((f) => formatCount(f.rawReadsPerSecond))],
            ['store.list() (every row)', ...figures.map((f) => formatMs(f.listMs))],
            ['listInfo() (what status shows, sorted)', ...figures.map((f) => formatMs(f.listInfoMs))],
            ['database file per connection', ...figures.map((f) => formatBytes(f.fileBytes / f.connections))],
            ['keeper heap per cached connection', ...figures.map((f) => formatBytes(f.heapPerConnection))],
            ['keeper RSS per cached connection', ...figures.map((f) => formatBytes(f.rssPerConnection))],
            ['`tokenkeeper status` wall time (median)', ...figures.map((f) => formatMs(median(f.statusMs)))],
            ['`tokenkeeper status` output', ...figures.map((f) => formatBytes(f.statusOutputBytes))],
          ],
        },
      ],
      goals: [],
      notes: [
        'The issue sets no goal here; these figures are for sizing. listInfo() is the in-process part of `status` (no decryption); the rest of its wall time is process start, opening the store and printing.',
      ],
      data: { sizes, figures },
    };
  },
};

async function measureScale(
  storePath: string,
  count: number,
  sizes: { readMs: number; statusRounds: number; rateMs: number },
): Promise<ScaleFigures> {
  const prepared = await prepareStore(storePath, count);
  const { repository } = prepared;
  let readsPerSecond: number;
  let rawReadsPerSecond: number;
  let listMs: number;
  let listInfoMs: number;
  try {
    // A fixed pseudo-random walk over the names: every run reads the same rows in the same order.
    let seed = 1;
    const nextName = () => {
      seed = (seed * 48271) % 2147483647;
      return connectionName(seed % count);
    };
    const limits = { durationMs: sizes.readMs, maxOperations: 5_000_000, batch: 100 };
    readsPerSecond = (await measureSequentialRate(() => repository.load(nextName()), limits)).perSecond;
    rawReadsPerSecond = (await measureSequentialRate(() => repository.store.get(nextName()), limits))
      .perSecond;
    let begin = performance.now();
    const rows = await repository.store.list();
    listMs = performance.now() - begin;
    if (rows.length !== count) throw new Error(`store holds ${rows.length} rows, expected ${count}`);
    begin = performance.now();
    await repository.listInfo();
    listInfoMs = performance.now() - begin;
  } finally {
    await prepared.close();
  }
  const { size } = await stat(storePath);
  const wal = await stat(`${storePath}-wal`).catch(() => ({ size: 0 }));

  const memory = await measureKeeperMemory(storePath, count, sizes.rateMs);

  const statusMs: number[] = [];
  let statusOutputBytes = 0;
  for (let round = 0; round < sizes.statusRounds; round++) {
    const run = await runTimed(process.execPath, [CLI_MAIN, 'status'], {
      env: cliEnv(storePath),
      timeoutMs: 5 * 60_000,
    });
    if (run.code !== 0)
      throw new Error(`tokenkeeper status failed (exit ${run.code}): ${run.stderr.slice(-500)}`);
    statusMs.push(run.ms);
    statusOutputBytes = run.stdoutBytes;
  }

  return {
    connections: count,
    writesPerSecond: (count / prepared.writeMs) * 1000,
    readsPerSecond,
    rawReadsPerSecond,
    listMs,
    listInfoMs,
    fileBytes: size + wal.size,
    heapPerConnection: memory.heapPerConnection,
    rssPerConnection: memory.rssPerConnection,
    statusMs,
    statusOutputBytes,
  };
}
