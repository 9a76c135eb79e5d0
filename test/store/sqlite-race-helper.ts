/**
 * A child process for the cross-process SQLite tests: opens the store at argv[2], then
 * answers one JSON request per stdin line with one JSON line on stdout.
 *
 * Request: { id, op, args, at? }; `at` (epoch ms) makes it wait until then, so that
 * several processes act at the same instant. Response: { id, result } or { id, error }.
 */

import { createInterface } from 'node:readline';
import { SqliteTokenStore } from '../../src/store/sqlite-store.js';

interface Request {
  id: number;
  op: string;
  args: unknown[];
  at?: number;
}

const path = process.argv[2];
if (!path) throw new Error('usage: sqlite-race-helper <database path>');
const store = await SqliteTokenStore.open(path);

async function waitUntil(at: number): Promise<void> {
  const early = at - Date.now() - 5;
  if (early > 0) await new Promise((resolve) => setTimeout(resolve, early));
  while (Date.now() < at) {
    // spin the last few milliseconds for a tight start
  }
}

async function increment(name: string, times: number): Promise<number> {
  let conflicts = 0;
  for (let done = 0; done < times; ) {
    const current = await store.get(name);
    if (!current) throw new Error(`${name} is missing`);
    const next = { count: (current.meta.count as number) + 1, by: process.pid };
    if ((await store.put(name, next, current.sealed, current.version)) === undefined) conflicts++;
    else done++;
  }
  return conflicts;
}

/** Claims `batch` at a time until nothing is due at `now`; every name this process got. */
async function claimAll(now: number, batch: number, leaseMs: number): Promise<string[]> {
  const claimed: string[] = [];
  for (;;) {
    const names = await store.dueIndex.claimDue(now, batch, leaseMs);
    if (names.length === 0) return claimed;
    claimed.push(...names);
  }
}

async function handle(request: Request): Promise<unknown> {
  if (request.at !== undefined) await waitUntil(request.at);
  const [a, b, c, d] = request.args as [never, never, never, never];
  switch (request.op) {
    case 'get':
      return (await store.get(a)) ?? null;
    case 'put':
      return (await store.put(a, b, c, d)) ?? null;
    case 'tryLock':
      return store.tryLock(a, b, c);
    case 'unlock':
      return store.unlock(a, b);
    case 'claimAll':
      return claimAll(a, b, c);
    case 'increment':
      return increment(a, b);
    case 'close':
      await store.close();
      return true;
    default:
      throw new Error(`unknown op ${request.op}`);
  }
}

const lines = createInterface({ input: process.stdin });
process.stdout.write(`${JSON.stringify({ ready: true, pid: process.pid })}\n`);
for await (const line of lines) {
  const request = JSON.parse(line) as Request;
  try {
    const result = await handle(request);
    process.stdout.write(`${JSON.stringify({ id: request.id, result })}\n`);
  } catch (error) {
    const { code, message } = error as { code?: string; message?: string };
    process.stdout.write(`${JSON.stringify({ id: request.id, error: { code, message } })}\n`);
  }
  if (request.op === 'close') break;
}
await store.close();
