/**
 * A TokenStore that hands every call to another one: the base of the test wrappers that
 * stop (GatedStore) or fail (bad days' FlakyStore) chosen calls of a real store. A
 * subclass overrides only the calls it changes.
 */
import type { ConnectionMeta, TokenStore } from '../../src/store/types.js';

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
