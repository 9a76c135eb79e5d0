/**
 * A Redis server and a PostgreSQL cluster of the test's own, on free loopback ports, that the
 * test can pause (SIGSTOP) and resume (SIGCONT): a server that stops answering while its
 * connections stay open, as one that is partitioned away or wedged does. The shared servers
 * on 6379 and 5432 are never touched. Every wait is bounded, and stop() ends only the
 * processes started here and removes their directory.
 */

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import pg from 'pg';
import { probeRedis } from './servers.js';

const run = promisify(execFile);

export interface PausableServer {
  url: string;
  /** SIGSTOP: connections stay open, nothing answers. */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

/** Sends `signal` to a process that may have gone. */
function signal(pid: number | undefined, name: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, name);
  } catch {
    // gone already
  }
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  signal(child.pid, 'SIGCONT');
  child.kill('SIGKILL');
  await Promise.race([exited, sleep(5_000)]);
}

/** Why a private redis-server cannot be started here, or undefined when it can. */
export async function probePrivateRedis(): Promise<string | undefined> {
  try {
    await run('redis-server', ['--version'], { timeout: 5_000 });
    return undefined;
  } catch (error) {
    return `redis-server is needed (${(error as Error).message})`;
  }
}

export async function startPrivateRedis(): Promise<PausableServer> {
  const dir = mkdtempSync(join(tmpdir(), 'tokenkeeper-redis-'));
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
      { stdio: 'ignore' },
    );
    const url = `redis://127.0.0.1:${port}`;
    try {
      await waitFor(
        `redis-server on port ${port}`,
        async () => (await probeRedis(url)) === undefined,
        10_000,
      );
    } catch (error) {
      await kill(child);
      // Another process took the port between the check and the start: try another.
      if (attempt < 3) continue;
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
    return {
      url,
      pause: () => signal(child.pid, 'SIGSTOP'),
      resume: () => signal(child.pid, 'SIGCONT'),
      async stop() {
        await kill(child);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
}

/** The user a PostgreSQL cluster runs as: the `postgres` account for root (initdb refuses root), else ours. */
function clusterUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith('postgres:'));
  const [, , uid, gid] = line?.split(':') ?? [];
  if (uid === undefined || gid === undefined)
    throw new Error('root needs a postgres account to run a cluster');
  return { uid: Number(uid), gid: Number(gid) };
}

/**
 * A PostgreSQL server program: from the PATH, else from Debian's versioned directory (where
 * its packages keep them off the PATH), the newest version first.
 */
function postgresProgram(name: 'initdb' | 'postgres'): string {
  const onPath = (process.env.PATH ?? '').split(':').find((dir) => dir && existsSync(join(dir, name)));
  if (onPath) return join(onPath, name);
  const versions = existsSync(DEBIAN_POSTGRES)
    ? readdirSync(DEBIAN_POSTGRES).sort((a, b) => Number(b) - Number(a))
    : [];
  const found = versions.map((version) => join(DEBIAN_POSTGRES, version, 'bin', name)).find(existsSync);
  if (!found) throw new Error(`${name} is neither on the PATH nor in ${DEBIAN_POSTGRES}/*/bin`);
  return found;
}
const DEBIAN_POSTGRES = '/usr/lib/postgresql';

/** Why a private PostgreSQL cluster cannot be started here, or undefined when it can. */
export async function probePrivatePostgres(): Promise<string | undefined> {
  try {
    clusterUser();
    await run(postgresProgram('initdb'), ['--version'], { timeout: 5_000 });
    await run(postgresProgram('postgres'), ['--version'], { timeout: 5_000 });
    return undefined;
  } catch (error) {
    return `initdb and postgres are needed (${(error as Error).message})`;
  }
}

/** The processes a postmaster started: each backend runs in a session of its own, so not its group. */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // pid (comm) state ppid …; comm may hold spaces, so read after its closing parenthesis.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) children.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return children;
}

/** A cluster with database `test`, trust authentication on loopback, no fsync. */
export async function startPrivatePostgres(): Promise<PausableServer> {
  const dir = mkdtempSync(join(tmpdir(), 'tokenkeeper-pg-'));
  const user = clusterUser();
  // Run from the cluster's own directory: the postgres account may not enter ours.
  const as = { cwd: dir, ...(user ? { uid: user.uid, gid: user.gid } : {}) };
  if (user) {
    chownSync(dir, user.uid, user.gid);
    chmodSync(dir, 0o700);
  }
  const data = join(dir, 'data');
  let child: ChildProcess | undefined;
  const stop = async () => {
    if (child) await kill(child);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await run(
      postgresProgram('initdb'),
      ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8'],
      {
        ...as,
        timeout: 60_000,
      },
    );
    const port = await freePort();
    child = spawn(
      postgresProgram('postgres'),
      ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off'],
      { ...as, stdio: 'ignore' },
    );
    const admin = `postgres://postgres@127.0.0.1:${port}/postgres`;
    await waitFor(
      `postgres on port ${port}`,
      async () => {
        const client = new pg.Client({ connectionString: admin, connectionTimeoutMillis: 2_000 });
        client.on('error', () => undefined);
        try {
          await client.connect();
          await client.query('SELECT 1');
          return true;
        } finally {
          await client.end().catch(() => undefined);
        }
      },
      20_000,
    );
    const client = new pg.Client({ connectionString: admin });
    await client.connect();
    await client.query('CREATE DATABASE test');
    await client.end();
    const postmaster = child.pid as number;
    const everyProcess = () => [postmaster, ...childrenOf(postmaster)];
    return {
      url: `postgres://postgres@127.0.0.1:${port}/test`,
      pause: () => {
        for (const pid of everyProcess()) signal(pid, 'SIGSTOP');
      },
      resume: () => {
        for (const pid of everyProcess()) signal(pid, 'SIGCONT');
      },
      async stop() {
        for (const pid of everyProcess()) signal(pid, 'SIGCONT');
        // A fast shutdown ends the backends too; SIGKILL after 5 s if it does not.
        if (child && child.exitCode === null && child.signalCode === null) {
          const exited = new Promise((resolve) => child?.once('exit', resolve));
          signal(postmaster, 'SIGINT');
          await Promise.race([exited, sleep(5_000)]);
        }
        await stop();
      },
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
