/**
 * What the serve-* scenarios share: the Factus emulator and daemons in child processes,
 * connections seeded quickly, and callers of the daemon's HTTP API.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { type ConnectionRecord, ConnectionRepository } from '../../src/connection.js';
import type { EmulatorStats } from '../../src/emulators/index.js';
import { createKeeper } from '../../src/keeper.js';
import type { SecretBox } from '../../src/store/encryption.js';
import { generateEncryptionKey } from '../../src/store/encryption.js';
import { openStore } from '../../src/store/open-store.js';
import type { ConnectionMeta, TokenStore } from '../../src/store/types.js';
import { checkPut } from '../../src/store/validate.js';
import type { TokenSetData } from '../../src/token-set.js';
import { askCpuMs, childScript, LineChild } from './child.js';
import { BENCH_CREDENTIALS } from './factus.js';

export const SERVE_SECRET = `bench-${randomUUID()}`;

/** The environment of every process of one scenario: one key, one access secret. */
export function serveEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    TOKENKEEPER_KEY: generateEncryptionKey().toString('base64'),
    TOKENKEEPER_SERVE_SECRET: SERVE_SECRET,
  };
}

export function serveConnectionName(index: number): string {
  return `svc-${String(index).padStart(6, '0')}`;
}

export interface FactusServer {
  url: string;
  tokenUrl: string;
  stats(): Promise<EmulatorStats>;
  stop(): Promise<void>;
}

export async function startFactusServer(accessTtlSeconds: number): Promise<FactusServer> {
  const child = new LineChild(childScript('factus-server'), { args: [String(accessTtlSeconds)] });
  try {
    const { url, tokenUrl } = JSON.parse(await child.next(10_000)) as { url: string; tokenUrl: string };
    return {
      url,
      tokenUrl,
      stats: async () => {
        child.send('stats');
        return JSON.parse(await child.next(10_000)) as EmulatorStats;
      },
      stop: () => child.close(),
    };
  } catch (error) {
    await child.close();
    throw error;
  }
}

export interface DaemonStats {
  refreshes: number;
  tokens: number;
  adopted: number;
  failed: number;
  lagCount: number;
  lagP50: number;
  lagP99: number;
  lagMax: number;
  /** How long the daemon's event loop was late, p99 (ms). */
  loopDelayP99: number;
  cpuMs: number;
  elapsedMs: number;
  rss: number;
  heapUsed: number;
  connections: number;
  scheduled: number;
}

export interface DaemonChild {
  url: string;
  pid: number;
  /** From the call to startDaemon until it listened: every connection read and scheduled. */
  startMs: number;
  stats(): Promise<DaemonStats>;
  reset(): Promise<void>;
  /** The CPU the daemon's process has used since it started (ms), read without a GC or a reset. */
  cpuMs(): Promise<number>;
  stop(): Promise<void>;
}

export interface DaemonChildOptions {
  store: string;
  concurrency?: number;
  tokenRequestsPerSecond?: number;
  watchIntervalMs?: number;
  benchProfile?: boolean;
}

export async function startDaemonChild(
  options: DaemonChildOptions,
  env: NodeJS.ProcessEnv,
  startTimeoutMs = 120_000,
): Promise<DaemonChild> {
  const child = new LineChild(childScript('serve-daemon'), {
    execArgv: ['--expose-gc'],
    args: [JSON.stringify(options)],
    env,
  });
  try {
    const ready = JSON.parse(await child.next(startTimeoutMs)) as {
      url: string;
      pid: number;
      startMs: number;
    };
    return {
      ...ready,
      stats: async () => {
        child.send('stats');
        return JSON.parse(await child.next(30_000)) as DaemonStats;
      },
      reset: async () => {
        child.send('reset');
        await child.expect('ok', 10_000);
      },
      cpuMs: () => askCpuMs(child),
      stop: () => child.close(15_000),
    };
  } catch (error) {
    await child.close();
    throw error;
  }
}

/** The sealed row a repository would write, without writing it. */
interface CapturedRow {
  name: string;
  meta: ConnectionMeta;
  sealed: string;
}

export interface SeedOptions {
  /** A store location, as TOKENKEEPER_STORE. */
  location: string;
  env: NodeJS.ProcessEnv;
  emulator: { url: string; tokenUrl: string };
  count: number;
  /**
   * true: each connection gets tokens of its own from a password grant at the emulator, so
   * its refresh token is real and used by nobody else. false: every row is a copy of one
   * login's tokens (enough when no refresh comes due while measuring).
   */
  ownTokens: boolean;
  /** SQLite only: write every row in one transaction (the rows are sealed first). */
  bulkSqlitePath?: string;
  /**
   * With ownTokens: spread the logins evenly over this long, each saved as soon as it has its
   * tokens, as connections that logged in at different times (a daemon running meanwhile
   * picks them up). Without it, everything logs in as fast as it can.
   */
  spreadOverMs?: number;
}

/**
 * Seeds `count` Factus connections: one real login through the keeper gives the record's
 * shape, every other row is that record under another name with a generation of its own,
 * sealed for its name by ConnectionRepository. Returns the time it took (ms).
 */
export async function seedFactusConnections(options: SeedOptions): Promise<number> {
  const begin = performance.now();
  const template = await templateRecord(options);
  const recordOf = (index: number, tokens: TokenSetData | undefined): ConnectionRecord => ({
    ...template.record,
    name: serveConnectionName(index),
    generation: randomUUID(),
    secrets: { ...template.record.secrets, tokens: tokens ?? template.record.secrets.tokens },
  });
  const { store, secretBox } = await openStore(options.location, { env: options.env });
  try {
    const write = rowWriter(store, secretBox, options.bulkSqlitePath);
    if (options.spreadOverMs !== undefined) {
      if (!options.ownTokens) throw new Error('spreadOverMs spreads logins: it needs ownTokens');
      await spreadLogins(options.emulator.tokenUrl, options.count, options.spreadOverMs, recordOf, write);
    } else {
      const tokensFor = options.ownTokens
        ? await passwordGrants(options.emulator.tokenUrl, options.count)
        : undefined;
      await write(Array.from({ length: options.count }, (_, index) => recordOf(index, tokensFor?.[index])));
    }
  } finally {
    await store.close();
  }
  return performance.now() - begin;
}

/** Writes new rows: through the store's compare-and-set, or sealed and inserted in one SQLite transaction. */
function rowWriter(
  store: TokenStore,
  secretBox: SecretBox,
  bulkSqlitePath: string | undefined,
): (records: ConnectionRecord[]) => Promise<void> {
  if (bulkSqlitePath === undefined) {
    const repository = new ConnectionRepository(store, secretBox);
    return (records) =>
      inParallel(records.length, 32, async (index) => {
        const record = records[index] as ConnectionRecord;
        if ((await repository.save(record, 0)) === undefined)
          throw new Error(`${record.name} already existed`);
      });
  }
  return async (records) => {
    const captured: CapturedRow[] = [];
    const capturing = {
      put: async (name: string, meta: ConnectionMeta, sealed: string) => {
        captured.push({ name, meta, sealed });
        return 1;
      },
    } as unknown as TokenStore;
    const sealer = new ConnectionRepository(capturing, secretBox);
    for (const record of records) await sealer.save(record, 0);
    await insertInOneTransaction(bulkSqlitePath, captured);
  };
}

/** How often logins spread out are written: a batch a tick, so a daemon writing the same SQLite file is seldom kept waiting. */
const SPREAD_WRITE_EVERY_MS = 500;

/**
 * Logs `count` connections in evenly over `overMs` (each gets its tokens at its own moment),
 * writing what has logged in every SPREAD_WRITE_EVERY_MS.
 */
async function spreadLogins(
  tokenUrl: string,
  count: number,
  overMs: number,
  recordOf: (index: number, tokens: TokenSetData) => ConnectionRecord,
  write: (records: ConnectionRecord[]) => Promise<void>,
): Promise<void> {
  const begin = performance.now();
  const pending: ConnectionRecord[] = [];
  let written = Promise.resolve();
  const writePending = () => {
    const batch = pending.splice(0);
    written = written.then(() => write(batch));
    return written;
  };
  // A failed write fails the seeding at the last writePending below.
  const ticker = setInterval(() => void writePending().catch(() => undefined), SPREAD_WRITE_EVERY_MS);
  try {
    await inParallel(count, 32, async (index) => {
      const wait = begin + (index * overMs) / count - performance.now();
      if (wait > 0) await sleep(wait);
      pending.push(recordOf(index, await passwordGrant(tokenUrl)));
    });
  } finally {
    clearInterval(ticker);
  }
  await writePending();
}

/** Runs `task` for 0 … count-1, at most `width` at a time, in order of index. */
async function inParallel(
  count: number,
  width: number,
  task: (index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: width }, worker));
}

async function templateRecord(options: SeedOptions) {
  const name = `template-${randomUUID()}`;
  const keeper = createKeeper({ store: options.location, proactiveRefresh: false, env: options.env });
  try {
    await keeper.connect(name, { provider: 'factus', baseUrl: options.emulator.url, ...BENCH_CREDENTIALS });
  } finally {
    await keeper.close();
  }
  const { store, secretBox } = await openStore(options.location, { env: options.env });
  try {
    const repository = new ConnectionRepository(store, secretBox);
    const template = await repository.load(name);
    if (!template?.record.secrets.tokens) throw new Error('the template connection was not saved');
    await repository.delete(name);
    return template;
  } finally {
    await store.close();
  }
}

/** `count` password grants at the emulator's token endpoint, 16 at a time. */
async function passwordGrants(tokenUrl: string, count: number): Promise<TokenSetData[]> {
  const tokens: TokenSetData[] = new Array(count);
  await inParallel(count, 16, async (index) => {
    tokens[index] = await passwordGrant(tokenUrl);
  });
  return tokens;
}

const PASSWORD_GRANT = new URLSearchParams({
  grant_type: 'password',
  client_id: BENCH_CREDENTIALS.clientId,
  client_secret: BENCH_CREDENTIALS.clientSecret,
  username: BENCH_CREDENTIALS.username,
  password: BENCH_CREDENTIALS.password,
}).toString();

/** One password grant at the emulator: tokens of their own for one connection. */
async function passwordGrant(tokenUrl: string): Promise<TokenSetData> {
  const obtainedAt = Date.now();
  const response = await fetch(tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: PASSWORD_GRANT,
  });
  const answer = (await response.json()) as {
    access_token: string;
    token_type: string;
    refresh_token: string;
    expires_in: number;
  };
  if (!response.ok || !answer.access_token) throw new Error(`password grant failed: ${response.status}`);
  return {
    accessToken: answer.access_token,
    tokenType: answer.token_type,
    refreshToken: answer.refresh_token,
    expiresAt: obtainedAt + answer.expires_in * 1000,
    obtainedAt,
  };
}

/** The store's own INSERT, for every captured row, in one SQLite transaction. */
async function insertInOneTransaction(path: string, rows: readonly CapturedRow[]): Promise<void> {
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(path);
  try {
    const insert = db.prepare(
      'INSERT INTO connections (name, meta, sealed, version, updated_at) VALUES (?, ?, ?, 1, ?)',
    );
    const now = Date.now();
    db.transaction(() => {
      for (const row of rows)
        insert.run(row.name, checkPut(row.name, row.meta, row.sealed, 0), row.sealed, now);
    })();
  } finally {
    db.close();
  }
}

/** GET a daemon route with the access secret; the body parsed as JSON. */
export async function callDaemon(url: string, path: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${SERVE_SECRET}` } });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

/** Deletes every key of a Redis store with this prefix (plain and cluster-tagged keys). */
export async function deleteRedisKeys(url: string, prefix: string): Promise<void> {
  const admin = new Redis(url);
  try {
    const keys = [...(await admin.keys(`${prefix}*`)), ...(await admin.keys(`{${prefix}*`))];
    for (let i = 0; i < keys.length; i += 500) await admin.del(...keys.slice(i, i + 500));
  } finally {
    admin.disconnect();
  }
}
