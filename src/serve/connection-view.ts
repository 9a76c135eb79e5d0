/**
 * What the daemon knows of each connection in the store, from the clear metadata of its
 * row (never a secret): what `/v1/connections`, the dashboard and the metrics show, and
 * what the keep-alive schedules from. One small object per connection.
 */
import { isErrorCode } from '../errors.js';
import { sharedBackoffCode } from '../refresh/shared-backoff.js';
import type { StoredConnectionMeta } from '../store/types.js';

export type ConnectionStateName = 'ok' | 'reauth_required';

/** What the daemon has told webhooks about a connection, so each change is reported once. */
export type Alerted = 'none' | 'failing' | 'reauth_required';

export interface ViewedConnection {
  name: string;
  /** The store version this view was read from. */
  version: number;
  provider: string;
  grant: string;
  state: ConnectionStateName;
  /** ms since the epoch; null: never expires; undefined: no token. */
  expiresAt: number | null | undefined;
  obtainedAt: number | undefined;
  lastRefreshAt: number | undefined;
  /** The code of the last error (this daemon's, or the one recorded in the store). */
  lastErrorCode: string | undefined;
  /** Consecutive failed refreshes by this daemon. */
  failures: number;
  /** When this daemon refreshes it next; undefined: nothing scheduled. */
  dueAt: number | undefined;
  /**
   * A refresh said a new login is needed while the record still looked fine (the mark
   * was not saved): not retried until another write changes the version.
   */
  reauthAtVersion: number | undefined;
  alerted: Alerted;
  /**
   * Which of this daemon's store reads this view came from, counted up: a listing that
   * began before it may predate the row, so the row's absence there proves nothing.
   */
  readSeq: number;
}

/** The view of a row; `previous` carries over what only this daemon knows. */
export function viewOf(row: StoredConnectionMeta, previous?: ViewedConnection): ViewedConnection {
  const meta = row.meta;
  const lastError = meta.lastError as { code?: unknown } | undefined;
  const backoff = meta.backoff as { code?: unknown } | undefined;
  // The clear copy is shown unchecked: only a code tokenkeeper uses, never a writer's own text.
  const recordedCode = isErrorCode(lastError?.code) ? lastError.code : undefined;
  const backoffCode = backoff ? sharedBackoffCode(backoff.code) : undefined;
  const state: ConnectionStateName = meta.state === 'reauth_required' ? 'reauth_required' : 'ok';
  const obtainedAt = typeof meta.obtainedAt === 'number' ? meta.obtainedAt : undefined;
  // New tokens (from anyone) end a run of failures.
  const renewed = previous !== undefined && obtainedAt !== previous.obtainedAt;
  return {
    name: row.name,
    version: row.version,
    provider: typeof meta.provider === 'string' ? meta.provider : 'unknown',
    grant: typeof meta.grant === 'string' ? meta.grant : 'unknown',
    state,
    expiresAt:
      typeof meta.expiresAt === 'number' ? meta.expiresAt : meta.expiresAt === null ? null : undefined,
    obtainedAt,
    lastRefreshAt: typeof meta.lastRefreshAt === 'number' ? meta.lastRefreshAt : undefined,
    lastErrorCode:
      backoffCode ?? recordedCode ?? (renewed || state !== 'ok' ? undefined : previous?.lastErrorCode),
    failures: renewed ? 0 : (previous?.failures ?? 0),
    dueAt: previous?.dueAt,
    reauthAtVersion: previous?.reauthAtVersion === row.version ? previous.reauthAtVersion : undefined,
    alerted: previous?.alerted ?? 'none',
    readSeq: 0, // the keep-alive numbers its reads
  };
}

/** Needs a person: marked in the store, or refused at this very version. */
export function needsLogin(view: ViewedConnection): boolean {
  return view.state === 'reauth_required' || view.reauthAtVersion === view.version;
}
