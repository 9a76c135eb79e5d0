/**
 * Timed loops. Every loop here is bounded twice, by a duration and by a count,
 * so a benchmark always stops by itself even if an operation is much faster or
 * slower than expected.
 */
import { performance } from 'node:perf_hooks';

export interface ThroughputOptions {
  /** Operations kept in flight at once (closed loop: each worker starts the next when one ends). */
  concurrency: number;
  durationMs: number;
  /** Hard cap on operations, whatever the duration. */
  maxOperations: number;
}

export interface Throughput {
  operations: number;
  elapsedMs: number;
  perSecond: number;
  /** CPU time this process spent per operation (µs), all threads: steadier than wall time on a shared machine. */
  cpuMicrosPerOperation: number;
}

/** Closed-loop throughput of an async operation with a fixed number of workers. */
export async function measureThroughput(
  operation: () => Promise<unknown>,
  options: ThroughputOptions,
): Promise<Throughput> {
  let started = 0;
  let completed = 0;
  const cpu = process.cpuUsage();
  const begin = performance.now();
  const deadline = begin + options.durationMs;
  const worker = async () => {
    while (started < options.maxOperations && performance.now() < deadline) {
      started++;
      await operation();
      completed++;
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  return result(completed, begin, cpu);
}

/**
 * Calls per second of an operation awaited one after another, the way a caller
 * writes `await keeper.getAccessToken(name)`. Time is read once per batch so the
 * clock does not dominate a sub-microsecond operation.
 */
export async function measureSequentialRate(
  operation: () => Promise<unknown>,
  options: { durationMs: number; maxOperations: number; batch: number },
): Promise<Throughput> {
  let operations = 0;
  const cpu = process.cpuUsage();
  const begin = performance.now();
  const deadline = begin + options.durationMs;
  while (operations < options.maxOperations && performance.now() < deadline) {
    for (let i = 0; i < options.batch; i++) await operation();
    operations += options.batch;
  }
  return result(operations, begin, cpu);
}

function result(operations: number, begin: number, cpuBefore: NodeJS.CpuUsage): Throughput {
  const elapsedMs = performance.now() - begin;
  const cpu = process.cpuUsage(cpuBefore);
  return {
    operations,
    elapsedMs,
    perSecond: (operations / elapsedMs) * 1000,
    cpuMicrosPerOperation: (cpu.user + cpu.system) / Math.max(1, operations),
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Runs `work` for every item, one after another (clean timings), or all at once
 * (the smoke run, where only correctness counts). Results keep the items' order.
 */
export async function forEachItem<T, R>(
  items: readonly T[],
  parallel: boolean,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  if (parallel) return Promise.all(items.map(work));
  const results: R[] = [];
  for (const item of items) results.push(await work(item));
  return results;
}
