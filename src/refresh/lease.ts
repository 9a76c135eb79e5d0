/**
 * The refresh lock of one connection, held as a lease: taken with an owner token,
 * renewed while its holder works (every third of its length, on the pacing clock),
 * and released by compare-and-delete. A holder that fails to renew knows it lost the
 * lease; its writes are fenced by the store anyway, so it cannot write over a successor.
 */
import { randomUUID } from 'node:crypto';
import type { TimerHandle } from '../clock.js';
import { LockTimeoutError } from '../errors.js';
import { backoffDelay } from '../http/backoff.js';
import type { KeeperSettings } from '../options.js';
import type { TokenStore } from '../store/types.js';

export interface Lease {
  readonly name: string;
  readonly owner: string;
  /** True once a renewal found the lock gone or taken over. */
  readonly lost: boolean;
  /** Stops renewing and releases the lock (if it is still ours). */
  release(): Promise<void>;
}

type LeaseSettings = Pick<KeeperSettings, 'pacingClock' | 'random' | 'lock'>;

/**
 * Takes the lock of `name`, polling with back-off while someone else holds it.
 * `onWait` runs after each refused attempt and may end the wait with a value
 * (the refresher adopts tokens another holder saved meanwhile).
 */
export async function acquireLease<T>(
  store: TokenStore,
  name: string,
  settings: LeaseSettings,
  onWait: () => Promise<T | undefined>,
): Promise<{ lease: Lease } | { instead: T }> {
  const { pacingClock, lock, random } = settings;
  const owner = randomUUID();
  const started = pacingClock.now();
  for (let attempt = 0; ; attempt++) {
    if (await store.tryLock(name, owner, lock.ttlMs))
      return { lease: holdLease(store, name, owner, settings) };
    const instead = await onWait();
    if (instead !== undefined) return { instead };
    const waited = pacingClock.now() - started;
    if (waited > lock.waitMs) throw new LockTimeoutError(name, waited);
    await pacingClock.sleep(backoffDelay(lock.poll, attempt, random));
  }
}

/** Runs `work` while holding the lock of `name`; for connect, logout and forget. */
export async function withLease<T>(
  store: TokenStore,
  name: string,
  settings: LeaseSettings,
  work: (lease: Lease) => Promise<T>,
): Promise<T> {
  const taken = await acquireLease<never>(store, name, settings, async () => undefined);
  if (!('lease' in taken)) throw new Error('unreachable: nothing is adopted while waiting');
  try {
    return await work(taken.lease);
  } finally {
    await taken.lease.release();
  }
}

function holdLease(store: TokenStore, name: string, owner: string, settings: LeaseSettings): Lease {
  const { pacingClock, lock } = settings;
  let timer: TimerHandle | undefined;
  let released = false;
  const lease = {
    name,
    owner,
    lost: false,
    async release() {
      released = true;
      timer?.cancel();
      await store.unlock(name, owner).catch(() => undefined);
    },
  };
  const renewLater = () => {
    timer = pacingClock.setTimer(async () => {
      if (released) return;
      try {
        if (!(await store.renewLock(name, owner, lock.ttlMs))) {
          lease.lost = true;
          return;
        }
      } catch {
        // The store did not answer: try again at the next beat. If the lease runs out
        // meanwhile, the fenced write is refused and says so.
      }
      if (!released) renewLater();
    }, lock.ttlMs / 3);
  };
  renewLater();
  return lease;
}
