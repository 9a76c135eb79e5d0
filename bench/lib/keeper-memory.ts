/** Runs children/keeper-memory on a prepared store and returns what it measured. */
import { childScript, LineChild } from './child.js';

export interface KeeperMemory {
  count: number;
  heapPerConnection: number;
  rssPerConnection: number;
  heapUsed: number;
  rss: number;
  warmMs: number;
  callsPerSecondAcrossConnections: number;
}

export async function measureKeeperMemory(
  storePath: string,
  count: number,
  rateDurationMs: number,
): Promise<KeeperMemory> {
  const child = new LineChild(childScript('keeper-memory'), {
    execArgv: ['--expose-gc'],
    args: [storePath, String(count), String(rateDurationMs)],
  });
  try {
    return JSON.parse(await child.next(5 * 60_000)) as KeeperMemory;
  } finally {
    await child.close();
  }
}
