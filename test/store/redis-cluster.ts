/**
 * A real three-node Redis Cluster on loopback for one test file: `redis-server` nodes in
 * cluster mode on free ports, joined with `redis-cli --cluster create`. Every wait is
 * bounded, and stop() kills the nodes and removes their directory.
 */

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface RedisClusterUnderTest {
  /** A `redis://` URL of one node: the store finds the others. */
  url: string;
  ports: number[];
  stop(): Promise<void>;
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Three ports in 7000–7999 that are free, with their cluster bus ports (+10000) free too. */
async function freeClusterPorts(): Promise<number[]> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 7000 + Math.floor(Math.random() * 997);
    const ports = [base, base + 1, base + 2];
    const checks = await Promise.all(ports.flatMap((port) => [portIsFree(port), portIsFree(port + 10_000)]));
    if (checks.every(Boolean)) return ports;
  }
  throw new Error('no three free ports for a Redis Cluster in 7000–7999');
}

/** Why a cluster cannot be started here, or undefined when it can. */
export async function probeRedisCluster(): Promise<string | undefined> {
  try {
    await run('redis-server', ['--version'], { timeout: 5000 });
    await run('redis-cli', ['--version'], { timeout: 5000 });
    return undefined;
  } catch (error) {
    return `redis-server and redis-cli are needed (${(error as Error).message})`;
  }
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], {
    timeout: 10_000,
  });
  return stdout;
}

export async function startRedisCluster(): Promise<RedisClusterUnderTest> {
  const dir = mkdtempSync(join(tmpdir(), 'tokenkeeper-redis-cluster-'));
  const ports = await freeClusterPorts();
  const nodes: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(
      nodes.map(async (node) => {
        if (node.exitCode !== null || node.signalCode !== null) return;
        const exited = new Promise((resolve) => node.once('exit', resolve));
        node.kill('SIGKILL');
        await Promise.race([exited, sleep(5000)]);
      }),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const port of ports) {
      const node = spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          join(dir, `nodes-${port}.conf`),
          '--dir',
          dir,
          '--save',
          '',
          '--appendonly',
          'no',
          '--daemonize',
          'no',
        ],
        { stdio: 'ignore' },
      );
      nodes.push(node);
    }
    for (const port of ports) {
      await waitFor(
        `redis-server on port ${port}`,
        async () => (await cli(port, 'PING')).trim() === 'PONG',
        10_000,
      );
    }
    await run(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...ports.map((port) => `127.0.0.1:${port}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ],
      { timeout: 30_000 },
    );
    for (const port of ports) {
      await waitFor(
        `the cluster to be ready on port ${port}`,
        async () => /cluster_state:ok/.test(await cli(port, 'CLUSTER', 'INFO')),
        20_000,
      );
    }
    return { url: `redis://127.0.0.1:${ports[0]}`, ports, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
