/**
 * Keeps every connection of a store alive: watches the store for connections other
 * processes add, change or remove, schedules each one's next refresh in the due index,
 * and runs the due refreshes through the keeper (which brings leases, fencing,
 * single-flight, adoption and the shared back-off).
 *
 * Bounded: at most `concurrency` refreshes at a time, token requests spaced per provider,
 * jittered due times, and a growing back-off per connection after failures. A connection
 * that needs a new login is not retried until a write (a login) changes its record.
 */
import { createHash } from 'node:crypto';
import type { Clock, TimerHandle } from '../clock.js';
import { isTokenkeeperError, KeeperClosedError, TokenkeeperError } from '../errors.js';
import { type BackoffPolicy, backoffDelay } from '../http/backoff.js';
import type { Keeper } from '../keeper.js';
import { settledWithin } from '../settled-within.js';
import type { ChangeFeed, DueIndex, StoreChange, StoredConnectionMeta, TokenStore } from '../store/types.js';
import type { Alerts } from './alerts.js';
import { needsLogin, type ViewedConnection, viewOf } from './connection-view.js';
import { dueAtOf, type KeepAlivePolicy } from './due-time.js';
import { FeedLiveness } from './feed-liveness.js';
import { ProviderPacer } from './provider-pacer.js';

export interface KeepAliveOptions {
  keeper: Keeper;
  store: TokenStore;
  dueIndex: DueIndex;
  /** Token time: due times and expiry. */
  clock: Clock;
  /** Real time: watching the store, heartbeats, pacing token requests. */
  pacingClock: Clock;
  random: () => number;
  policy: KeepAlivePolicy;
  concurrency: number;
  tokenRequestsPerSecond: number;
  /** How often the store is read for changes made by other processes (the least interval). */
  watchIntervalMs: number;
  /** How often it is read while the store's change feed is heard (FeedLiveness): a safety net. */
  liveFeedWatchIntervalMs: number;
  /** How long after a refresh is saved its announcement may take before the feed counts as deaf. */
  feedProofMs: number;
  /** A claimed connection comes due again after this long if its claimer never reschedules it. */
  claimLeaseMs: number;
  /** The wait before retrying a connection whose refresh failed. */
  retry: BackoffPolicy;
  daemonId: string;
  heartbeatMs: number;
  /** Told of changes worth a webhook. */
  alerts: Alerts;
}

const SCHEDULE_BATCH = 256;

export class KeepAlive {
  readonly #view = new Map<string, ViewedConnection>();
  readonly #pacer: ProviderPacer;
  #running = 0;
  #claiming = false;
  #pumpAgain = false;
  #timer: TimerHandle | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #watchTimer: TimerHandle | undefined;
  #heartbeatTimer: TimerHandle | undefined;
  #stopped = false;
  readonly #inFlight = new Set<Promise<void>>();
  /** Connections this daemon is refreshing now: a watch tick must not schedule them again meanwhile. */
  readonly #busy = new Set<string>();
  #idleWaiters: Array<() => void> = [];
  /** Connections a caller asked for (token, proxy) since the daemon last refreshed them. */
  readonly #used = new Set<string>();
  /** Rows read into the view so far: numbers each view (readSeq). */
  #reads = 0;
  /** The store's announcements of changes, where it makes them (SQLite, PostgreSQL, Redis). */
  #feed: ChangeFeed | undefined;
  readonly #liveness: FeedLiveness;
  /** An echo is on its way through the feed. */
  #echoing = false;
  /** The last listing of every row: when it started, and how long it took. */
  #listing = { at: Number.NEGATIVE_INFINITY, took: 0 };

  constructor(private readonly options: KeepAliveOptions) {
    this.#pacer = new ProviderPacer(options.tokenRequestsPerSecond, options.pacingClock);
    this.#liveness = new FeedLiveness(
      options.pacingClock,
      options.feedProofMs,
      options.liveFeedWatchIntervalMs,
    );
  }

  /**
   * Reads the store once, schedules everything, then keeps watching: it hears of each change
   * as it is made where the store announces changes, and reads every row now and then in
   * any case (an announcement can be missed while the feed's connection is down): rarely
   * while it hears its own refreshes announced, at the watch interval otherwise.
   */
  async start(): Promise<void> {
    await this.#beat();
    this.#feed = await this.options.store.watchChanges?.(
      (change) => {
        this.#liveness.heard(change);
        this.#heard(change).catch(() => undefined); // a store outage: the next watch tick catches up
      },
      () => this.#liveness.missed(), // so the next watch tick reads every row
    );
    // Heard while the first listing runs, the echo spares the first watch tick a second one.
    this.#echoAhead(this.options.watchIntervalMs);
    await this.sync();
    this.#watchLater(this.options.watchIntervalMs);
    this.#heartbeatLater();
  }

  /** Every connection as the daemon knows it, by name. */
  connections(): ViewedConnection[] {
    return [...this.#view.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  get(name: string): ViewedConnection | undefined {
    return this.#view.get(name);
  }

  /** A caller asked for this connection's token: keep it in memory after the next refresh. */
  markUsed(name: string): void {
    if (this.#view.has(name)) this.#used.add(name); // names it does not know cannot grow the set
  }

  /** Refreshes under way. */
  get running(): number {
    return this.#running;
  }

  /**
   * Reads every row's metadata and versions: new and changed connections are (re)scheduled,
   * removed ones dropped, and this process lets go of a token another process replaced.
   */
  async sync(): Promise<void> {
    const { store, pacingClock } = this.options;
    const listingStartedAt = this.#reads;
    const startedAt = pacingClock.now();
    const rows = store.listMeta ? await store.listMeta() : await store.list();
    const present = new Set<string>();
    const changed: StoredConnectionMeta[] = [];
    for (const row of rows) {
      present.add(row.name);
      if (this.#letGoIfNewer(row)) changed.push(row);
    }
    // A shared due index is a round trip per entry: a few hundred at a time, not one by one.
    for (let i = 0; i < changed.length; i += SCHEDULE_BATCH) {
      await Promise.all(changed.slice(i, i + SCHEDULE_BATCH).map((row) => this.#track(row)));
    }
    for (const name of [...this.#view.keys()]) {
      if (!present.has(name)) await this.#untrackUnlessReadSince(name, listingStartedAt);
    }
    this.#listing = { at: startedAt, took: pacingClock.now() - startedAt };
    this.#pump();
  }

  /**
   * True when `row` is newer than the daemon's view of it: someone else wrote it (a login,
   * another refresh), maybe after a caller of this daemon was handed the previous token, so
   * the keeper lets go of that token and reads the store again on next use. Versions only
   * grow: an older row was read before a write this daemon already saw.
   */
  #letGoIfNewer(row: StoredConnectionMeta): boolean {
    const known = this.#view.get(row.name);
    if (known && row.version <= known.version) return false;
    this.options.keeper.release(row.name);
    return true;
  }

  /**
   * Drops a connection that a read begun at `readStartedAt` did not find, unless the daemon
   * read it since (a login, another sync, a claim): that read is newer than this one.
   */
  async #untrackUnlessReadSince(name: string, readStartedAt: number): Promise<void> {
    const readSeq = this.#view.get(name)?.readSeq;
    if (readSeq !== undefined && readSeq <= readStartedAt) await this.#untrack(name);
  }

  /**
   * One row changed, as the store announced: what a watch tick does, for that row alone. The
   * row is read again rather than taken from the announcement, which may be older than it.
   */
  async #heard(change: StoreChange): Promise<void> {
    // Being refreshed here: settling that refresh reads the row.
    if (this.#stopped || this.#busy.has(change.name)) return;
    const known = this.#view.get(change.name);
    // Seen already (this daemon's own writes, mostly), or the delete of a row it never had.
    if (known ? !change.deleted && change.version <= known.version : change.deleted) return;
    const readStartedAt = this.#reads;
    const row = await this.options.store.get(change.name);
    if (this.#stopped) return;
    if (!row) return this.#untrackUnlessReadSince(change.name, readStartedAt);
    if (!this.#letGoIfNewer(row)) return;
    await this.#track({ name: row.name, meta: row.meta, version: row.version });
    this.#pump();
  }

  /** Resolves once nothing is running and nothing is due at the token clock's now. */
  async whenIdle(): Promise<void> {
    for (;;) {
      if (this.#running === 0 && !this.#claiming) {
        const next = await this.options.dueIndex.nextDueAt();
        if (next === undefined || next > this.options.clock.now()) return;
        this.#pump();
      }
      await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
    }
  }

  /** Stops scheduling and waits, at most `graceMs`, for the refreshes under way to finish. */
  async stop(graceMs: number): Promise<void> {
    this.#stopped = true;
    this.#timer?.cancel();
    this.#watchTimer?.cancel();
    this.#heartbeatTimer?.cancel();
    await this.#feed?.close();
    if (this.#inFlight.size === 0) return;
    await settledWithin([...this.#inFlight], graceMs);
  }

  /** Updates the view from a row and schedules its next refresh (unless a refresh of it is running). */
  async #track(row: StoredConnectionMeta): Promise<ViewedConnection> {
    const view = this.#observe(row);
    if (!this.#busy.has(row.name)) await this.#schedule(view, this.#dueFromRecord(row, view));
    return view;
  }

  #observe(row: StoredConnectionMeta): ViewedConnection {
    const previous = this.#view.get(row.name);
    const view = viewOf(row, previous);
    this.#remember(view);
    this.options.alerts.observed(view, previous);
    return view;
  }

  /** `view` was just read from the store. */
  #remember(view: ViewedConnection): void {
    view.readSeq = ++this.#reads;
    this.#view.set(view.name, view);
  }

  async #untrack(name: string): Promise<void> {
    this.#view.delete(name);
    this.#used.delete(name);
    this.options.keeper.release(name);
    await this.options.dueIndex.unscheduleDue(name);
  }

  #dueFromRecord(row: StoredConnectionMeta, view: ViewedConnection): number | undefined {
    if (needsLogin(view)) return undefined;
    const { keeper, policy } = this.options;
    let lifetimeSeconds: number | undefined;
    try {
      lifetimeSeconds = keeper.profile(view.provider).refreshTokenLifetimeSeconds;
    } catch {
      lifetimeSeconds = undefined; // a provider this daemon has no profile for: access-token expiry only
    }
    const lifetimeMs = lifetimeSeconds === undefined ? undefined : lifetimeSeconds * 1000;
    return dueAtOf(row.meta, lifetimeMs, policy, stableJitter(row.name, view.obtainedAt));
  }

  async #schedule(view: ViewedConnection, dueAt: number | undefined): Promise<void> {
    view.dueAt = dueAt;
    if (dueAt === undefined) await this.options.dueIndex.unscheduleDue(view.name);
    else {
      await this.options.dueIndex.scheduleDue(view.name, dueAt);
      if (dueAt < this.#timerAt) this.#pump();
    }
  }

  /** Claims what is due, up to the free concurrency, and arms the timer for the next one. */
  #pump(): void {
    if (this.#stopped) return;
    if (this.#claiming) {
      this.#pumpAgain = true;
      return;
    }
    this.#claiming = true;
    void this.#claimAndRun()
      .catch(() => undefined) // the store did not answer: the next watch tick pumps again
      .finally(() => {
        this.#claiming = false;
        if (this.#pumpAgain) {
          this.#pumpAgain = false;
          this.#pump();
        } else this.#wakeIdleWaiters();
      });
  }

  async #claimAndRun(): Promise<void> {
    const { dueIndex, clock, concurrency, claimLeaseMs } = this.options;
    const free = concurrency - this.#running;
    // While refreshes run, claim a quarter of the slots at a time, not each one as it frees:
    // a claim and the timer's next due time are two round trips to a shared store, and
    // every refresh that ends pumps again.
    if (this.#running > 0 && free < Math.max(1, Math.floor(concurrency / 4))) return;
    const names = await dueIndex.claimDue(clock.now(), free, claimLeaseMs);
    // A refresh of ours that outlived its claim is still running: it reschedules when it ends.
    for (const name of names) if (!this.#busy.has(name)) this.#start(name);
    // Every slot asked for was due, so more may be: the refreshes just started pump again.
    if (names.length === free && names.length > 0) return;
    await this.#arm();
  }

  #start(name: string): void {
    this.#running++;
    this.#busy.add(name);
    const run = this.#refreshDue(name)
      .catch(() => undefined)
      .finally(() => {
        this.#running--;
        this.#inFlight.delete(run);
        this.#pump();
      });
    this.#inFlight.add(run);
  }

  async #arm(): Promise<void> {
    if (this.#stopped) return;
    const next = await this.options.dueIndex.nextDueAt();
    if (next === undefined || next >= this.#timerAt) return;
    this.#timer?.cancel();
    this.#timerAt = next;
    this.#timer = this.options.clock.setTimer(() => {
      this.#timer = undefined;
      this.#timerAt = Number.POSITIVE_INFINITY;
      this.#pump();
    }, next - this.options.clock.now());
  }

  /** One claimed connection: refresh it if it is still due, schedule what comes next. */
  async #refreshDue(name: string): Promise<void> {
    try {
      const known = this.#view.get(name);
      // The common case, this daemon's own schedule: the refresh names the version it judged due,
      // so a row written since is taken as it is, and the row need not be read here first.
      const due =
        known?.dueAt !== undefined && known.dueAt <= this.options.clock.now()
          ? known
          : await this.#judgeFromStore(name);
      if (!due) return;
      await this.#pacer.wait(due.provider);
      if (this.#stopped) return;
      this.#liveness.refreshing(name, due.version);
      const failure = await this.#refresh(name, due.version);
      this.#liveness.refreshed(name, failure === undefined);
      this.#busy.delete(name);
      await this.#settle(name, failure);
    } finally {
      this.#busy.delete(name);
    }
  }

  /**
   * A claimed connection this daemon did not judge due itself (another daemon scheduled it, or
   * a claim ran out): its row, if it is still due; otherwise it is rescheduled (or dropped).
   */
  async #judgeFromStore(name: string): Promise<ViewedConnection | undefined> {
    const row = await this.options.store.get(name);
    if (!row) {
      await this.#untrack(name);
      return undefined;
    }
    const view = this.#observe(row);
    const dueAt = this.#dueFromRecord(row, view);
    // Someone refreshed it since it was scheduled, or it needs a login: schedule what comes next.
    if (dueAt !== undefined && dueAt <= this.options.clock.now()) return view;
    await this.#schedule(view, dueAt);
    return undefined;
  }

  /** `version`: the row just judged due, so the refresh need not read it again before its lock. */
  async #refresh(name: string, version: number): Promise<TokenkeeperError | undefined> {
    try {
      await this.options.keeper.refresh(name, { ifVersion: version });
      return undefined;
    } catch (error) {
      return isTokenkeeperError(error)
        ? error
        : new TokenkeeperError('HTTP', 'The refresh failed unexpectedly; it is tried again later.');
    }
  }

  /** After a refresh: the new view, the next due time, and what webhooks hear. */
  async #settle(name: string, failure: TokenkeeperError | undefined): Promise<void> {
    const after = await this.options.store.get(name);
    if (!after) return this.#untrack(name);
    if (failure?.code === 'REAUTH_REQUIRED') {
      // Not retried until a login changes the record, even if the mark could not be saved.
      const previous = this.#view.get(name);
      const next = viewOf(after, previous);
      next.reauthAtVersion = after.version;
      this.#remember(next);
      this.options.alerts.observed(next, previous);
      return this.#schedule(next, undefined);
    }
    const view = await this.#track(after);
    // Given up by this daemon's own shutdown: still due as it was, for another daemon to take now.
    if (failure instanceof KeeperClosedError) return;
    if (failure) return this.#failed(view, failure);
    // Nobody asked for it since the last refresh: the store has the token, memory need not.
    if (!this.#used.delete(name)) this.options.keeper.release(name);
    view.failures = 0;
    view.lastErrorCode = undefined;
    this.options.alerts.refreshed(view);
  }

  async #failed(view: ViewedConnection, error: TokenkeeperError): Promise<void> {
    const { clock, retry, random, alerts } = this.options;
    view.failures += 1;
    view.lastErrorCode = error.code;
    alerts.failed(view, { code: error.code, message: error.message });
    const retryAt = clock.now() + backoffDelay(retry, view.failures - 1, random);
    const recorded = view.dueAt ?? retryAt;
    await this.#schedule(view, Math.max(retryAt, recorded));
  }

  #watchLater(delayMs: number): void {
    if (this.#stopped) return;
    this.#watchTimer = this.options.pacingClock.setTimer(async () => {
      this.#echoAhead(delayMs);
      if (!this.#feedCoversListing()) {
        await this.sync().catch(() => undefined); // a store outage: /healthz says so; try again next tick
      }
      // A store with many rows is read less often: never more than a tenth of the time.
      this.#watchLater(Math.max(this.options.watchIntervalMs, 10 * this.#listing.took));
    }, delayMs);
  }

  /**
   * Sends an echo through the feed when its proof would run out within two watch ticks, so a
   * daemon with nothing to refresh (whose refreshes prove nothing) still lists rarely.
   */
  #echoAhead(tickMs: number): void {
    const feed = this.#feed;
    if (feed?.echo === undefined || this.#echoing || this.#liveness.liveFor(2 * tickMs)) return;
    this.#echoing = true;
    const sentAt = this.#liveness.echoing();
    feed
      .echo(this.options.feedProofMs)
      .then((heard) => {
        if (heard) this.#liveness.echoed(sentAt);
      })
      .catch(() => undefined) // unheard: the listing goes on at its pace
      .finally(() => {
        this.#echoing = false;
      });
  }

  /**
   * The feed is heard, and the last listing is recent enough for a safety net: at most every
   * liveFeedWatchIntervalMs, and a hundredth of the time on a store with many rows.
   */
  #feedCoversListing(): boolean {
    if (!this.#liveness.isLive()) return false;
    const { liveFeedWatchIntervalMs, pacingClock } = this.options;
    const interval = Math.max(liveFeedWatchIntervalMs, 100 * this.#listing.took);
    return pacingClock.now() - this.#listing.at < interval;
  }

  #heartbeatLater(): void {
    if (this.#stopped) return;
    this.#heartbeatTimer = this.options.pacingClock.setTimer(async () => {
      await this.#beat().catch(() => undefined);
      this.#heartbeatLater();
    }, this.options.heartbeatMs);
  }

  #beat(): Promise<void> {
    const { dueIndex, daemonId, pacingClock, heartbeatMs } = this.options;
    // Alive for three beats: one late beat does not make the daemon look gone.
    return dueIndex.heartbeat(daemonId, pacingClock.now(), 3 * heartbeatMs);
  }

  #wakeIdleWaiters(): void {
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const wake of waiters) wake();
  }
}

/**
 * The jitter of one token, in [0, 1): spread across connections, but the same each time
 * the due time of a token is worked out again (every watch tick), so it does not drift.
 */
function stableJitter(name: string, obtainedAt: number | undefined): number {
  const digest = createHash('sha256')
    .update(`${name}\u0000${obtainedAt ?? ''}`)
    .digest();
  return digest.readUInt32BE(0) / 2 ** 32;
}
