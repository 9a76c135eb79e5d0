/**
 * A TokenStore in this process's memory: for tests, demos and `memory:`. Everything is
 * synchronous under the hood, so each method is atomic by construction.
 */

import { type Clock, systemClock } from '../clock.js';
import { MemoryDueIndex } from './memory-due-index.js';
import type { ConnectionMeta, StoredConnection, StoredConnectionMeta, TokenStore } from './types.js';
import { assertConnectionName, assertLockArguments, checkPut, closedError } from './validate.js';

/** Settings of `new MemoryTokenStore()`. */
export interface MemoryTokenStoreOptions {
  /** Measures lock leases; defaults to the system clock. */
  clock?: Pick<Clock, 'now'>;
}

interface Row {
  metaJson: string;
  sealed: string;
  version: number;
}

interface Lease {
  owner: string;
  expiresAt: number;
}

/** A store in this process's memory: for tests and one-off scripts (`memory:`). */
export class MemoryTokenStore implements TokenStore {
  readonly kind = 'memory';
  readonly location = 'memory:';
  readonly #rows = new Map<string, Row>();
  readonly #locks = new Map<string, Lease>();
  /** The last version of each deleted name: a new connection of that name continues from it. */
  readonly #retired = new Map<string, number>();
  readonly #clock: Pick<Clock, 'now'>;
  readonly dueIndex = new MemoryDueIndex(() => this.#assertOpen());
  #closed = false;

  constructor(options: MemoryTokenStoreOptions = {}) {
    this.#clock = options.clock ?? systemClock;
  }

  #assertOpen(): void {
    if (this.#closed) throw closedError(this.kind, this.location);
  }

  #toStored(name: string, row: Row): StoredConnection {
    // Stored as JSON text so callers never share objects with the store, and so that
    // what round-trips here is exactly what round-trips through the other backends.
    return {
      name,
      meta: JSON.parse(row.metaJson) as ConnectionMeta,
      sealed: row.sealed,
      version: row.version,
    };
  }

  async get(name: string): Promise<StoredConnection | undefined> {
    this.#assertOpen();
    assertConnectionName(name);
    const row = this.#rows.get(name);
    return row && this.#toStored(name, row);
  }

  async list(): Promise<StoredConnection[]> {
    this.#assertOpen();
    return [...this.#rows.keys()].sort().map((name) => this.#toStored(name, this.#rows.get(name)!));
  }

  async listMeta(): Promise<StoredConnectionMeta[]> {
    return (await this.list()).map(({ sealed: _sealed, ...meta }) => meta);
  }

  async put(
    name: string,
    meta: ConnectionMeta,
    sealed: string,
    expectedVersion: number | null,
    fence?: string,
  ): Promise<number | undefined> {
    this.#assertOpen();
    const metaJson = checkPut(name, meta, sealed, expectedVersion, fence);
    if (fence !== undefined && !this.#holds(name, fence)) return undefined;
    const current = this.#rows.get(name)?.version;
    if (expectedVersion !== null && expectedVersion !== (current ?? 0)) return undefined;
    const version = (current ?? this.#retired.get(name) ?? 0) + 1;
    this.#rows.set(name, { metaJson, sealed, version });
    this.#retired.delete(name);
    return version;
  }

  #holds(name: string, owner: string): boolean {
    const lease = this.#locks.get(name);
    return lease !== undefined && lease.owner === owner && lease.expiresAt > this.#clock.now();
  }

  async delete(name: string, fence?: string): Promise<boolean> {
    this.#assertOpen();
    assertConnectionName(name);
    if (fence !== undefined) {
      assertLockArguments(fence);
      if (!this.#holds(name, fence)) return false;
    }
    this.#locks.delete(name);
    this.dueIndex.drop(name);
    const row = this.#rows.get(name);
    if (!row) return false;
    this.#retired.set(name, row.version);
    return this.#rows.delete(name);
  }

  async tryLock(name: string, owner: string, ttlMs: number): Promise<boolean> {
    this.#assertOpen();
    assertConnectionName(name);
    assertLockArguments(owner, ttlMs);
    const now = this.#clock.now();
    const lease = this.#locks.get(name);
    if (lease && lease.expiresAt > now && lease.owner !== owner) return false;
    this.#locks.set(name, { owner, expiresAt: now + ttlMs });
    return true;
  }

  async renewLock(name: string, owner: string, ttlMs: number): Promise<boolean> {
    this.#assertOpen();
    assertConnectionName(name);
    assertLockArguments(owner, ttlMs);
    const lease = this.#locks.get(name);
    if (!lease || lease.owner !== owner) return false;
    lease.expiresAt = this.#clock.now() + ttlMs;
    return true;
  }

  async unlock(name: string, owner: string): Promise<boolean> {
    this.#assertOpen();
    assertConnectionName(name);
    assertLockArguments(owner);
    const lease = this.#locks.get(name);
    if (!lease || lease.owner !== owner) return false;
    this.#locks.delete(name);
    // A lease that ran out was no longer held: say so, as the other backends do.
    return lease.expiresAt > this.#clock.now();
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}
