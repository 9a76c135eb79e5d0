/**
 * A TokenStore that hands every call to another one: the base of the test wrappers that
 * stop (GatedStore) or fail (bad days' FlakyStore) chosen calls of a real store. A
 * subclass overrides only the calls it changes.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import type { ChangeFeed, ConnectionMeta, DueIndex, StoreChange, TokenStore } from '../../src/store/types.js';

export class ForwardingStore implements TokenStore {
  readonly kind: string;
  readonly location: string;

  constructor(readonly inner: TokenStore) {
    this.kind = inner.kind;
    this.location = inner.location;
  }

  get(name: string) {
    return this.inner.get(name);
  }
  list() {
    return this.inner.list();
  }
  put(name: string, meta: ConnectionMeta, sealed: string, expected: number | null, fence?: string) {
    return this.inner.put(name, meta, sealed, expected, fence);
  }
  delete(name: string, fence?: string) {
    return this.inner.delete(name, fence);
  }
  tryLock(name: string, owner: string, ttlMs: number) {
    return this.inner.tryLock(name, owner, ttlMs);
  }
  renewLock(name: string, owner: string, ttlMs: number) {
    return this.inner.renewLock(name, owner, ttlMs);
  }
  unlock(name: string, owner: string) {
    return this.inner.unlock(name, owner);
  }
  close() {
    return this.inner.close();
  }
}

/** Counts the rows read (get), so a test can tell a read that was skipped. */
export class ReadCountingStore extends ForwardingStore {
  reads = 0;
  override get(name: string) {
    this.reads++;
    return super.get(name);
  }
}

/**
 * Counts the listings of every row, and can stop the store's announcements from reaching
 * the watcher: a deaf feed, as a LISTEN behind a transaction pooler is. The due index is
 * the store's own.
 */
export class DeafenableFeedStore extends ForwardingStore {
  listings = 0;
  deaf = false;
  echoesSent = 0;
  readonly dueIndex: DueIndex | undefined;

  /** @param echoes false: a feed without echo, so only the daemon's refreshes prove it. */
  constructor(
    inner: TokenStore,
    private readonly echoes = true,
  ) {
    super(inner);
    this.dueIndex = inner.dueIndex;
  }

  listMeta() {
    this.listings++;
    return this.inner.listMeta ? this.inner.listMeta() : this.inner.list();
  }

  async watchChanges(onChange: (change: StoreChange) => void, onMissed?: () => void): Promise<ChangeFeed> {
    if (!this.inner.watchChanges) throw new Error(`${this.kind} announces no changes`);
    const feed = await this.inner.watchChanges((change) => {
      if (!this.deaf) onChange(change);
    }, onMissed);
    const { echo } = feed;
    if (echo === undefined || !this.echoes) return { close: () => feed.close() };
    return {
      // Deaf, the echo goes out and is not heard, as the changes are not.
      echo: async (withinMs) => {
        this.echoesSent++;
        const heard = await echo.call(feed, withinMs);
        if (!this.deaf) return heard;
        await sleep(withinMs);
        return false;
      },
      close: () => feed.close(),
    };
  }
}
