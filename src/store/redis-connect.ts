/**
 * Connecting to Redis, standalone or Cluster, from one `redis://` URL.
 *
 * The URL names any one node. Once connected, the store asks it `INFO cluster`: a node
 * with `cluster_enabled:1` is part of a Redis Cluster, and the store reconnects through
 * ioredis's Cluster client with that node as the seed (it discovers the others and follows
 * slot moves). So the same URL works for both, and a cluster is never used by a client
 * that would send a script's keys to the wrong node.
 *
 * Every command fails after STORE_COMMAND_TIMEOUT_MS without an answer (ioredis waits
 * forever by default): a server that is paused or cut off keeps the connection open.
 *
 * Auto-pipelining: the commands of many refreshes issued in one tick go out in one write,
 * where one write each costs a system call; a daemon with 64 refreshes in flight spent a
 * sixth of its time there.
 */

import type { Cluster, Redis, RedisOptions } from 'ioredis';
import { ConfigError, StoreError } from '../errors.js';
import { STORE_COMMAND_TIMEOUT_MS } from './deadlines.js';

export type RedisClient = Redis | Cluster;

export interface RedisConnection {
  client: RedisClient;
  cluster: boolean;
}

interface IoRedis {
  Redis: typeof Redis;
  Cluster: typeof Cluster;
}

async function loadIoRedis(): Promise<IoRedis> {
  try {
    const { Redis, Cluster } = await import('ioredis');
    return { Redis, Cluster };
  } catch (error) {
    throw new StoreError(
      'Cannot load the `ioredis` package for the Redis store; install it (`npm install ioredis`) next to tokenkeeper.',
      { cause: error },
    );
  }
}

/** Whether the server behind `client` runs in cluster mode; a server that refuses INFO does not. */
export async function reportsClusterMode(client: Redis): Promise<boolean> {
  try {
    return /^cluster_enabled:1\s*$/m.test(await client.info('cluster'));
  } catch {
    return false;
  }
}

/** Connects to the node at `url`, then to its cluster if it belongs to one. */
export async function connectRedis(
  url: string,
  options: RedisOptions,
  failure: (error: unknown) => Error,
): Promise<RedisConnection> {
  const ioredis = await loadIoRedis();
  const node = await connectOne(ioredis, url, options, failure);
  if (!(await reportsClusterMode(node))) return { client: node, cluster: false };
  node.disconnect();
  return { client: await connectCluster(ioredis, url, options, failure), cluster: true };
}

async function connectOne(
  ioredis: IoRedis,
  url: string,
  options: RedisOptions,
  failure: (error: unknown) => Error,
): Promise<Redis> {
  const client = new ioredis.Redis(url, {
    lazyConnect: true,
    enableAutoPipelining: true,
    connectTimeout: 10_000,
    maxRetriesPerRequest: 3,
    // A paused or partitioned server keeps the connection open and never answers.
    commandTimeout: STORE_COMMAND_TIMEOUT_MS,
    ...options,
  });
  return start(client, failure);
}

async function connectCluster(
  ioredis: IoRedis,
  url: string,
  options: RedisOptions,
  failure: (error: unknown) => Error,
): Promise<Cluster> {
  const seed = new URL(url);
  const database = seed.pathname.replace(/^\//, '');
  if (database !== '' && database !== '0') {
    throw new ConfigError(
      `The Redis server at ${seed.host} is part of a Redis Cluster, which has only database 0; ` +
        `remove /${database} from the store URL.`,
    );
  }
  const cluster = new ioredis.Cluster([{ host: seed.hostname, port: Number(seed.port || 6379) }], {
    lazyConnect: true,
    enableAutoPipelining: true,
    redisOptions: {
      connectTimeout: 10_000,
      maxRetriesPerRequest: 3,
      commandTimeout: STORE_COMMAND_TIMEOUT_MS,
      ...(seed.username ? { username: decodeURIComponent(seed.username) } : {}),
      ...(seed.password ? { password: decodeURIComponent(seed.password) } : {}),
      ...(seed.protocol === 'rediss:' ? { tls: {} } : {}),
      ...options,
    },
  });
  return start(cluster, failure);
}

async function start<C extends RedisClient>(client: C, failure: (error: unknown) => Error): Promise<C> {
  // Without a listener ioredis prints connection errors itself; commands report them to their callers.
  let lastError: unknown;
  client.on('error', (error: unknown) => {
    lastError = error;
  });
  try {
    await client.connect();
    return client;
  } catch (error) {
    client.disconnect();
    // connect() only says "Connection is closed."; the 'error' event said why.
    throw failure(lastError ?? error);
  }
}
