/**
 * The due index of a RedisTokenStore: a sorted set of names scored by due time, and one of
 * daemon ids scored by when their heartbeat runs out. Each lives in one key, so each
 * script stays in one slot of a cluster. A claim reads and moves its entries in one Lua
 * script, which Redis runs atomically: two claimers never get the same name.
 */

import type { RedisClient } from './redis-connect.js';
import type { RedisKeys } from './redis-keys.js';
import type { DueIndex } from './types.js';
import {
  assertConnectionName,
  assertDaemonId,
  checkClaimLimit,
  checkDurationMs,
  checkEpochMs,
} from './validate.js';

// KEYS: due. ARGV: now, limit, until. Most overdue first; equal times in name order.
const CLAIM_SCRIPT = `
local names = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, name in ipairs(names) do redis.call('ZADD', KEYS[1], 'XX', ARGV[3], name) end
return names
`;

// KEYS: daemons. ARGV: id, now, until. Forgets the daemons whose heartbeat ran out.
const HEARTBEAT_SCRIPT = `
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
return 1
`;

/** Runs one command; failures come back as StoreErrors saying what failed. */
export type RedisRun = <T>(action: string, command: () => Promise<T>) => Promise<T>;

interface DueCommands {
  tokenkeeperClaimDue(due: string, now: number, limit: number, until: number): Promise<string[]>;
  tokenkeeperHeartbeat(daemons: string, id: string, now: number, until: number): Promise<number>;
}

export class RedisDueIndex implements DueIndex {
  readonly #client: RedisClient & DueCommands;

  constructor(
    client: RedisClient,
    private readonly keys: RedisKeys,
    private readonly run: RedisRun,
  ) {
    // Defined commands go out as EVALSHA: the script text is sent once per connection.
    client.defineCommand('tokenkeeperClaimDue', { numberOfKeys: 1, lua: CLAIM_SCRIPT });
    client.defineCommand('tokenkeeperHeartbeat', { numberOfKeys: 1, lua: HEARTBEAT_SCRIPT });
    this.#client = client as RedisClient & DueCommands;
  }

  async scheduleDue(name: string, dueAtMs: number): Promise<void> {
    assertConnectionName(name);
    const dueAt = checkEpochMs('dueAtMs', dueAtMs);
    await this.run(`schedule "${name}"`, () => this.#client.zadd(this.keys.due, dueAt, name));
  }

  async unscheduleDue(name: string): Promise<void> {
    assertConnectionName(name);
    await this.run(`unschedule "${name}"`, () => this.#client.zrem(this.keys.due, name));
  }

  async claimDue(nowMs: number, limit: number, leaseMs: number): Promise<string[]> {
    const now = checkEpochMs('nowMs', nowMs);
    const take = checkClaimLimit(limit);
    const until = now + checkDurationMs('leaseMs', leaseMs);
    return this.run('claim due connections', () =>
      this.#client.tokenkeeperClaimDue(this.keys.due, now, take, until),
    );
  }

  async nextDueAt(): Promise<number | undefined> {
    const [, score] = await this.run('read the next due time', () =>
      this.#client.zrange(this.keys.due, 0, 0, 'WITHSCORES'),
    );
    return score === undefined ? undefined : Number(score);
  }

  async heartbeat(id: string, nowMs: number, ttlMs: number): Promise<void> {
    assertDaemonId(id);
    const now = checkEpochMs('nowMs', nowMs);
    const until = now + checkDurationMs('ttlMs', ttlMs);
    await this.run('record a heartbeat', () =>
      this.#client.tokenkeeperHeartbeat(this.keys.daemons, id, now, until),
    );
  }

  async liveDaemons(nowMs: number): Promise<string[]> {
    const now = checkEpochMs('nowMs', nowMs);
    const ids = await this.run('list live daemons', () =>
      this.#client.zrangebyscore(this.keys.daemons, `(${now}`, '+inf'),
    );
    return ids.sort();
  }
}
