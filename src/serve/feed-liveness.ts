/**
 * Whether the store's change feed is delivering, judged by the daemon's own refreshes: a
 * saved refresh is announced like anyone else's write, so the daemon follows one refresh at
 * a time as a probe. While its probes are heard, the feed tells the daemon of every change
 * at once and the listing of every row (the watch tick) is only a safety net, so it can run
 * rarely. A probe that goes unheard means a deaf feed: a LISTEN behind a transaction pooler,
 * a subscription lost while its connection was down, a SQLite log the watcher fell behind.
 * Silence proves nothing either way, so a proof lasts one slow listing interval: a daemon
 * that refreshes nothing for that long lists at its normal pace again. A feed that knows it
 * missed changes (its connection is back, or it fell behind) says so, which undoes the proof.
 * A daemon with nothing to refresh proves its feed with an echo instead (ChangeFeed.echo),
 * sent through the store the way writes announce themselves.
 */
import type { Clock } from '../clock.js';
import type { StoreChange } from '../store/types.js';

interface Probe {
  name: string;
  /** The version the refresh started from: any announced version above it is the refresh's write. */
  fromVersion: number;
  heard: boolean;
  /** When the refresh was saved; undefined while it runs. */
  savedAt: number | undefined;
}

export class FeedLiveness {
  #probe: Probe | undefined;
  #provenAt = Number.NEGATIVE_INFINITY;
  /** Counts missed(): an echo sent before a miss proves nothing after it. */
  #misses = 0;

  /**
   * @param proofMs how long after its save a probe may take to be heard
   * @param liveForMs how long one heard probe keeps the feed live
   */
  constructor(
    private readonly clock: Clock,
    private readonly proofMs: number,
    private readonly liveForMs: number,
  ) {}

  /** A refresh of `name` from `version` starts. Armed before it, so an early announcement counts. */
  refreshing(name: string, version: number): void {
    if (this.#probe === undefined)
      this.#probe = { name, fromVersion: version, heard: false, savedAt: undefined };
  }

  /** The refresh of `name` ended: saved, or not (nothing was written, nothing is announced). */
  refreshed(name: string, saved: boolean): void {
    const probe = this.#probe;
    if (probe?.name !== name || probe.savedAt !== undefined) return;
    if (!saved) this.#probe = undefined;
    else if (probe.heard) this.#proven();
    else probe.savedAt = this.clock.now();
  }

  /** Every change the feed delivers. */
  heard(change: StoreChange): void {
    const probe = this.#probe;
    if (probe?.name !== change.name || !(change.deleted || change.version > probe.fromVersion)) return;
    if (probe.savedAt === undefined) probe.heard = true;
    else this.#proven();
  }

  /** The feed says changes may have gone by unheard: live again only on the next proof. */
  missed(): void {
    this.#probe = undefined;
    this.#provenAt = Number.NEGATIVE_INFINITY;
    this.#misses++;
  }

  /** An echo is being sent: what to hand back to echoed() once it is heard. */
  echoing(): number {
    return this.#misses;
  }

  /** An echo sent at `sentAt` (echoing()) was heard: live, unless the feed missed changes since. */
  echoed(sentAt: number): void {
    // A refresh being followed stays followed: its announcement may still go unheard.
    if (sentAt === this.#misses) this.#provenAt = this.clock.now();
  }

  /** True while the feed will still count as live `ms` from now, with nothing more heard. */
  liveFor(ms: number): boolean {
    return this.isLive() && this.clock.now() + ms - this.#provenAt <= this.liveForMs;
  }

  /** True while a probe was heard within `liveForMs` and none is overdue. */
  isLive(): boolean {
    const probe = this.#probe;
    if (probe?.savedAt !== undefined && this.clock.now() - probe.savedAt > this.proofMs) this.missed();
    return this.clock.now() - this.#provenAt <= this.liveForMs;
  }

  #proven(): void {
    this.#probe = undefined;
    this.#provenAt = this.clock.now();
  }
}
