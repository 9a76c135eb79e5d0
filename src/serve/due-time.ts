/**
 * When the daemon next refreshes a connection: pure arithmetic on the clear metadata
 * of its record, so 100,000 connections are scheduled without decrypting anything.
 *
 * Two deadlines, the earlier wins:
 * - the access token's, with the library's margin and jitter (refresh/refresh-timing.ts);
 * - the refresh token's: a refresh token that is never used lapses (Factorial: one week),
 *   so an idle connection is refreshed within half the profile's refresh-token lifetime
 *   (the other half leaves room for retries), and at least every `keepaliveMs`.
 * A back-off another process recorded in the store is respected.
 */
import { grantStrategy } from '../grants/strategies.js';
import type { GrantType } from '../grants/types.js';
import { type RefreshTimingOptions, refreshAt } from '../refresh/refresh-timing.js';

/** The fields of a record's clear metadata that scheduling reads. */
export interface SchedulableMeta {
  state?: unknown;
  grant?: unknown;
  expiresAt?: unknown;
  obtainedAt?: unknown;
  hasRefreshToken?: unknown;
  backoff?: unknown;
}

export interface KeepAlivePolicy {
  refreshTiming: RefreshTimingOptions;
  minRefreshIntervalMs: number;
  /** Refresh a connection with a refresh token at least this often, even when nobody uses it. */
  keepaliveMs: number;
  /** The keep-alive deadline moves earlier by up to this fraction of its window, at random. */
  keepaliveJitterFraction: number;
}

/**
 * The instant the connection needs a refresh, or undefined when the daemon has nothing to
 * do for it: it needs a new login, uses an API key, or its token never expires and it
 * has no refresh token to keep alive.
 */
export function dueAtOf(
  meta: SchedulableMeta,
  refreshTokenLifetimeMs: number | undefined,
  policy: KeepAlivePolicy,
  random: number,
): number | undefined {
  if (meta.state !== 'ok' || typeof meta.grant !== 'string') return undefined;
  if (!grantStrategy(meta.grant as GrantType).refreshable) return undefined;
  if (typeof meta.obtainedAt !== 'number') return undefined;
  const obtainedAt = meta.obtainedAt;
  const expiresAt = typeof meta.expiresAt === 'number' ? meta.expiresAt : null;

  const accessDue = refreshAt({ expiresAt, obtainedAt }, policy.refreshTiming, random, 0);
  let due = accessDue;
  if (meta.hasRefreshToken === true) {
    const window = Math.min(
      policy.keepaliveMs,
      refreshTokenLifetimeMs === undefined ? Number.POSITIVE_INFINITY : refreshTokenLifetimeMs / 2,
    );
    due = Math.min(due, obtainedAt + window * (1 - policy.keepaliveJitterFraction * random));
  }
  if (!Number.isFinite(due)) return undefined;
  const backoffUntil = backoffUntilOf(meta.backoff);
  // A whole millisecond, rounded up: due indexes keep integers, and an instant rounded down
  // would be claimed a fraction of a millisecond before it is due, found "not due yet" and
  // scheduled again at the same stored instant, over and over while the clock stands still.
  return Math.ceil(Math.max(due, obtainedAt + policy.minRefreshIntervalMs, backoffUntil));
}

function backoffUntilOf(backoff: unknown): number {
  const until = (backoff as { until?: unknown } | undefined)?.until;
  return typeof until === 'number' ? until : 0;
}
