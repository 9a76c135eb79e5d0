/**
 * Where a RedisTokenStore keeps what (layout 2), so that it works on Redis Cluster too.
 *
 * Every key of one connection carries the hash tag `{<prefix><name>}`, so the connection's
 * hash and lock live in one slot and a script may touch both. The structures shared by all
 * connections carry the tag `{<prefix>}` (a name is never empty, so no connection has it):
 *
 *   {<prefix><name>}:conn   hash { meta (JSON), sealed, version, updated_at }; a deleted
 *                           connection keeps only `version`, so versions never restart
 *   {<prefix><name>}:lock   string: the owner token, with a PX expiry (Redis's clock)
 *   {<prefix>}:names        set of every name ever written, so listing needs no KEYS;
 *                           listing skips names whose hash holds no connection
 *   {<prefix>}:due          sorted set: name → when it is next due (epoch ms)
 *   {<prefix>}:daemons      sorted set: daemon id → when its heartbeat runs out (epoch ms)
 *   {<prefix>}:layout       "2": the layout of the keys under this prefix
 *   <prefix>ratelimit:<key> rate-limiter-flexible's counters of shared request budgets
 *   {<prefix>}:changes      the pub/sub channel where writes announce themselves (not a key)
 *
 * Layout 1 (before Redis Cluster support) kept `<prefix>conn:<name>`, `<prefix>lock:<name>`
 * and `<prefix>names`; redis-layout.ts moves such a store to layout 2 when it is opened.
 */

export const REDIS_LAYOUT_VERSION = 2;

export interface RedisKeys {
  conn(name: string): string;
  lock(name: string): string;
  readonly names: string;
  readonly due: string;
  readonly daemons: string;
  readonly layout: string;
  /** The prefix of rate-limiter-flexible's keys (it adds `:<key>`). */
  readonly rateLimits: string;
  /** The pub/sub channel of TokenStore.watchChanges. */
  readonly changes: string;
}

export function redisKeys(prefix: string): RedisKeys {
  return {
    conn: (name) => `{${prefix}${name}}:conn`,
    lock: (name) => `{${prefix}${name}}:lock`,
    names: `{${prefix}}:names`,
    due: `{${prefix}}:due`,
    daemons: `{${prefix}}:daemons`,
    layout: `{${prefix}}:layout`,
    rateLimits: `${prefix}ratelimit`,
    changes: `{${prefix}}:changes`,
  };
}

/** The keys of layout 1, read once to move them. */
export function legacyRedisKeys(prefix: string) {
  return {
    connPrefix: `${prefix}conn:`,
    lock: (name: string) => `${prefix}lock:${name}`,
    names: `${prefix}names`,
  };
}

/** `text` as a SCAN MATCH pattern that matches only itself. */
export function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, (character) => `\\${character}`);
}
