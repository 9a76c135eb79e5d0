/**
 * A real store behind gates: a test can stop one chosen call (the n-th `get`, `put`,
 * `delete` or `tryLock` of one keeper) until it says go, to replay an interleaving step by step.
 * Several GatedStores may share one inner store, one per keeper, so each process of a
 * replay has its own gates. Successful writes are recorded with the lease they were fenced by.
 */
import type { ConnectionMeta } from '../../src/store/types.js';
import { ForwardingStore } from './forwarding-store.js';

type GatedMethod = 'get' | 'put' | 'tryLock' | 'delete';

export interface Gate {
  /** Resolves when the chosen call has arrived and is waiting. */
  readonly reached: Promise<void>;
  /** Lets the call go on to the inner store. */
  release(): void;
}

/** A gate, and the two ends the store keeps: say the call arrived, wait for the release. */
function newGate(): { gate: Gate; arrived: () => void; opened: Promise<void> } {
  let arrived!: () => void;
  let release!: () => void;
  const reached = new Promise<void>((resolve) => {
    arrived = resolve;
  });
  const opened = new Promise<void>((resolve) => {
    release = resolve;
  });
  return { gate: { reached, release }, arrived, opened };
}

interface PendingGate {
  method: GatedMethod;
  /** Calls of `method` still to let through before the one that waits. */
  skip: number;
  arrived: () => void;
  opened: Promise<void>;
}

export class GatedStore extends ForwardingStore {
  /** Every write the inner store accepted through this wrapper: its fence and new version. */
  readonly writes: Array<{ fence: string | undefined; version: number }> = [];
  #gates: PendingGate[] = [];

  /** Stops the next call of `method` (or the one after `skip` more) until released. */
  pause(method: GatedMethod, skip = 0): Gate {
    const { gate, arrived, opened } = newGate();
    this.#gates.push({ method, skip, arrived, opened });
    return gate;
  }

  /** Each gate counts the calls of its method on its own; the first one due stops this call. */
  async #pass(method: GatedMethod): Promise<void> {
    let due: PendingGate | undefined;
    for (const gate of this.#gates) {
      if (gate.method !== method) continue;
      if (gate.skip > 0) gate.skip--;
      else due ??= gate;
    }
    if (!due) return;
    this.#gates = this.#gates.filter((gate) => gate !== due);
    due.arrived();
    await due.opened;
  }

  override async get(name: string) {
    await this.#pass('get');
    return this.inner.get(name);
  }
  override async put(
    name: string,
    meta: ConnectionMeta,
    sealed: string,
    expected: number | null,
    fence?: string,
  ) {
    await this.#pass('put');
    const version = await this.inner.put(name, meta, sealed, expected, fence);
    if (version !== undefined) this.writes.push({ fence, version });
    return version;
  }
  override async delete(name: string, fence?: string) {
    await this.#pass('delete');
    return this.inner.delete(name, fence);
  }
  override async tryLock(name: string, owner: string, ttlMs: number) {
    await this.#pass('tryLock');
    return this.inner.tryLock(name, owner, ttlMs);
  }
}

/**
 * Holds the next listing once it has been read, until released: a sync that read the
 * store before a change and acts on what it read after the change.
 */
export class ListingHeldStore extends ForwardingStore {
  #held: { arrived: () => void; opened: Promise<void> } | undefined;

  holdNextListing(): Gate {
    const { gate, ...held } = newGate();
    this.#held = held;
    return gate;
  }

  override async list() {
    const rows = await this.inner.list();
    const held = this.#held;
    this.#held = undefined;
    if (held) {
      held.arrived();
      await held.opened;
    }
    return rows;
  }
}
