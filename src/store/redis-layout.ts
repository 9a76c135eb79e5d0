/**
 * Brings the keys under a prefix to the current layout (redis-keys.ts) when a store opens.
 *
 * Layout 1 kept `<prefix>conn:<name>` and `<prefix>lock:<name>`, which a cluster may put in
 * different slots. Each such connection is moved by one script (its hash, a live lock
 * with the time it has left, its name in the names set), so a move interrupted by a crash
 * is finished by the next process that opens the store, and several processes opening it
 * at once move each connection once. The layout marker is written last.
 *
 * Only a standalone server can hold layout 1: its scripts fail on a cluster. Hosts still
 * running a tokenkeeper that writes layout 1 must be upgraded with this one.
 */

import { StoreError } from '../errors.js';
import type { RedisClient } from './redis-connect.js';
import { globEscape, legacyRedisKeys, REDIS_LAYOUT_VERSION, type RedisKeys } from './redis-keys.js';

// KEYS: old conn, new conn, old lock, new lock, names. ARGV: name.
// A connection already written in the new layout is kept: it is newer than the old copy.
const MOVE_CONNECTION_SCRIPT = `
local fields = redis.call('HGETALL', KEYS[1])
if #fields == 0 then return 0 end
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('HSET', KEYS[2], unpack(fields))
  local ttl = redis.call('PTTL', KEYS[3])
  if ttl > 0 then redis.call('SET', KEYS[4], redis.call('GET', KEYS[3]), 'PX', ttl, 'NX') end
end
if redis.call('HEXISTS', KEYS[2], 'sealed') == 1 then redis.call('SADD', KEYS[5], ARGV[1]) end
redis.call('DEL', KEYS[1], KEYS[3])
return 1
`;

/** Moves layout 1 to the current layout, or refuses a layout written by a newer tokenkeeper. */
export async function upgradeRedisLayout(
  client: RedisClient,
  prefix: string,
  keys: RedisKeys,
  options: { cluster: boolean; location: string },
): Promise<void> {
  const written = await client.get(keys.layout);
  if (written !== null) {
    if (Number(written) > REDIS_LAYOUT_VERSION) {
      throw new StoreError(
        `The Redis store at ${options.location} (prefix ${JSON.stringify(prefix)}) has key layout ${written}, ` +
          'written by a newer tokenkeeper; upgrade tokenkeeper on this host to use it.',
      );
    }
    return;
  }
  if (!options.cluster) await moveLegacyConnections(client as import('ioredis').Redis, prefix, keys);
  await client.set(keys.layout, String(REDIS_LAYOUT_VERSION));
}

async function moveLegacyConnections(
  client: import('ioredis').Redis,
  prefix: string,
  keys: RedisKeys,
): Promise<void> {
  const legacy = legacyRedisKeys(prefix);
  const pattern = `${globEscape(legacy.connPrefix)}*`;
  let cursor = '0';
  do {
    const [next, found] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    for (const oldKey of found) {
      const name = oldKey.slice(legacy.connPrefix.length);
      if (name === '') continue;
      await client.eval(
        MOVE_CONNECTION_SCRIPT,
        5,
        oldKey,
        keys.conn(name),
        legacy.lock(name),
        keys.lock(name),
        keys.names,
        name,
      );
    }
  } while (cursor !== '0');
  await client.del(legacy.names);
}
