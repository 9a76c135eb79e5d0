/**
 * Key rotation: every connection sealed under a previous key is sealed again under
 * the current one, and so is every connection sealed before its settings were sealed
 * with its secrets (an API key or a token that never expires has no other write that
 * would bind them).
 *
 * Each connection is re-sealed under its refresh lock, with a fenced compare-and-set
 * write, so a refresh running on another host either finishes before (and its rotated
 * refresh token is what gets re-sealed) or waits until after. Nothing is sent to any
 * provider, and only the sealed part changes: the record is written back as it was read.
 */
import type { ConnectionRepository, VersionedRecord } from './connection.js';
import { isTokenkeeperError, TokenkeeperError } from './errors.js';
import type { KeeperSettings } from './options.js';
import { withLease } from './refresh/lease.js';

/** What `rekey` did, connection by connection. */
export interface RekeyResult {
  /** The id of the current key, which every re-sealed connection is now sealed under. */
  keyId: string;
  /** Connections sealed again under the current key, their settings sealed with them. */
  resealed: string[];
  /** Connections that were already sealed under the current key, settings included. */
  alreadyCurrent: string[];
  /** Connections left as they were, with why and what to do. */
  failed: RekeyFailure[];
}

/** A connection `rekey` could not seal under the current key, left as it was. */
export interface RekeyFailure {
  /** The connection's name. */
  name: string;
  /** The key the connection is sealed under, when its header says. */
  keyId?: string;
  /** STORE_KEY (no key given opens it, or it is damaged), STORE_TAMPERED or LOCK_TIMEOUT. */
  code: string;
  /** What went wrong and what to do about it. */
  message: string;
}

/** What leaves one connection behind without stopping the others. */
const PER_CONNECTION_FAILURES = new Set(['STORE_KEY', 'STORE_TAMPERED', 'LOCK_TIMEOUT']);

/** A compare-and-set that keeps losing means someone keeps writing without the lock. */
const MAX_ATTEMPTS = 3;

type Outcome = 'resealed' | 'current' | 'gone';

export async function rekeyConnections(
  repository: ConnectionRepository,
  settings: Pick<KeeperSettings, 'pacingClock' | 'random' | 'lock'>,
): Promise<RekeyResult> {
  const result: RekeyResult = { keyId: repository.keyId, resealed: [], alreadyCurrent: [], failed: [] };
  for (const { name } of await repository.listInfo()) {
    try {
      const outcome = await resealConnection(repository, name, settings);
      if (outcome === 'resealed') result.resealed.push(name);
      else if (outcome === 'current') result.alreadyCurrent.push(name);
    } catch (error) {
      if (!isTokenkeeperError(error) || !PER_CONNECTION_FAILURES.has(error.code)) throw error;
      const keyId = (await repository.loadInfo(name).catch(() => undefined))?.keyId;
      result.failed.push({ name, ...(keyId ? { keyId } : {}), code: error.code, message: error.message });
    }
  }
  return result;
}

async function resealConnection(
  repository: ConnectionRepository,
  name: string,
  settings: Pick<KeeperSettings, 'pacingClock' | 'random' | 'lock'>,
): Promise<Outcome> {
  // Most rows of a finished rotation are current: look first, without taking their locks,
  // but open them anyway, so a damaged row is reported now rather than at its next refresh.
  const seen = await repository.load(name);
  if (!seen) return 'gone';
  if (isCurrent(seen, repository)) return 'current';

  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const outcome = await withLease(repository.store, name, settings, async (lease) => {
      // Read again under the lock: a refresh may have rotated the tokens since.
      const loaded = await repository.load(name);
      if (!loaded) return 'gone';
      if (isCurrent(loaded, repository)) return 'current';
      const written = await repository.save(loaded.record, loaded.version, lease.owner);
      return written === undefined ? undefined : 'resealed';
    });
    if (outcome !== undefined) return outcome;
  }
  throw new TokenkeeperError(
    'LOCK_TIMEOUT',
    `Connection "${name}" kept changing while it was being re-sealed; run \`tokenkeeper rekey\` again.`,
    { connection: name },
  );
}

/**
 * Under the current key, with its settings sealed too. A row sealed before binding gets its
 * clear settings sealed as they are now: rekey cannot tell whether someone changed them
 * before, but once bound, nobody can change them unseen.
 */
function isCurrent(loaded: VersionedRecord, repository: ConnectionRepository): boolean {
  return loaded.keyId === repository.keyId && !loaded.unbound;
}
