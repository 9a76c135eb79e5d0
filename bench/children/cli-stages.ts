/**
 * Where the time of `tokenkeeper token <name>` goes, in one process: the same work
 * in the same order, a mark after each step (performance.now() counts from process
 * start). argv: <store path> <connection name>. Prints one JSON line of
 * [step, ms] pairs. Modules are imported in dependency order so each step is
 * charged only with what it adds; the middle steps separate what reading a fresh
 * token needs from what keeper.js loads besides (what a refresh, a login or a request uses).
 */
import { performance } from 'node:perf_hooks';

const [storePath, name] = process.argv.slice(2);
if (!storePath || !name) throw new Error('usage: cli-stages <store path> <name>');
const steps: Array<[string, number]> = [];
let last = 0;
const mark = (step: string) => {
  const now = performance.now();
  steps.push([step, now - last]);
  last = now;
};

mark('Node.js start-up, until the first line of a script runs');
await import('node:crypto');
mark('load node:crypto');
await Promise.all([
  import('../../src/store/open-store.js'),
  import('../../src/connection.js'),
  import('../../src/refresh/refresher.js'),
  import('../../src/token-set.js'),
  import('../../src/clock.js'),
  import('../../src/events.js'),
]);
mark('load what reading a fresh token needs (store, sealing, record, refresher, token set)');
const { createKeeper } = await import('../../src/keeper.js');
mark('load keeper.js and everything else it imports at start-up');
const { loadSqliteDriver } = await import('../../src/store/sqlite-driver.js');
await loadSqliteDriver();
mark('load the SQLite driver (better-sqlite3, a native addon)');
const keeper = createKeeper({ proactiveRefresh: false, env: { TOKENKEEPER_STORE: storePath } });
const token = await keeper.getAccessToken(name);
mark('read the key file, open the store, read and decrypt the connection');
await keeper.close();
if (!token) throw new Error('no token');
process.stdout.write(`${JSON.stringify(steps)}\n`);
