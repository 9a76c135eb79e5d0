/**
 * Memory and speed of one keeper serving many connections. Run with --expose-gc.
 * argv: <store path> <connection count> <rate duration ms>. Opens the keeper on the
 * prepared SQLite store, takes every connection's (fresh) token once so the keeper
 * caches it, and prints one JSON line: heap and RSS grown per cached connection, the
 * time to warm them all, and getAccessToken calls/s cycling over all connections.
 */
import { performance } from 'node:perf_hooks';
import { createKeeper } from '../../src/keeper.js';
import { connectionName } from '../lib/prepared-store.js';

const [storePath, countText, durationText] = process.argv.slice(2);
if (!storePath || !countText) throw new Error('usage: keeper-memory <store> <count> [durationMs]');
const count = Number(countText);
const durationMs = Number(durationText ?? 1000);
const collect = (globalThis as { gc?: () => void }).gc;
if (!collect) throw new Error('run with --expose-gc');

const settle = () => {
  collect();
  collect();
  return process.memoryUsage();
};

const names = Array.from({ length: count }, (_, i) => connectionName(i));
// Default options, as an application runs it: proactive refresh on, so each connection also holds a timer.
const keeper = createKeeper({ store: storePath, env: {} });
await keeper.info(names[0] as string); // opens the store: its cost is not per connection
const before = settle();
const warmBegin = performance.now();
for (const name of names) await keeper.getAccessToken(name);
const warmMs = performance.now() - warmBegin;
const after = settle();

let calls = 0;
let index = 0;
const begin = performance.now();
const deadline = begin + durationMs;
while (performance.now() < deadline && calls < 50_000_000) {
  for (let i = 0; i < 10_000; i++) {
    await keeper.getAccessToken(names[index] as string);
    index = index + 1 === count ? 0 : index + 1;
  }
  calls += 10_000;
}
const rate = (calls / (performance.now() - begin)) * 1000;
await keeper.close();

process.stdout.write(
  `${JSON.stringify({
    count,
    heapPerConnection: (after.heapUsed - before.heapUsed) / count,
    rssPerConnection: (after.rss - before.rss) / count,
    heapUsed: after.heapUsed,
    rss: after.rss,
    warmMs,
    callsPerSecondAcrossConnections: rate,
  })}\n`,
);
