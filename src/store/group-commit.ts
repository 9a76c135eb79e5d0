/**
 * Group commit: the writes that arrive in one turn of the event loop are committed together,
 * in one transaction with one fsync, and each caller learns its own result once that commit
 * is durable. A lone write waits for nothing but the end of the current turn.
 *
 * Why: a synced SQLite commit blocks the event loop until the disk has it (and the fsync
 * also flushes what the store's unsynced connection wrote since). A daemon finishing hundreds
 * of refreshes a second spent most of its time there; the responses that arrive while one
 * commit blocks are handled in the next turn, and their writes now share the next commit.
 *
 * A commit may take several turns (the store waits for another process's write lock without
 * blocking the event loop): commits run one after another, in the order their writes were
 * submitted, and the writes that arrive meanwhile share the next one.
 */

interface Pending<A, R> {
  args: A;
  resolve: (result: R) => void;
  reject: (error: unknown) => void;
}

export class GroupCommit<A, R> {
  #pending: Array<Pending<A, R>> = [];
  /** The commit under way, if any: the next one starts when it has ended. */
  #committing: Promise<void> = Promise.resolve();

  /**
   * `commitAll` runs every write of a batch in one transaction and returns their results in
   * order; `commitOne` runs one write in a transaction of its own. When the shared commit
   * fails, each write is tried alone, unless `worthTryingAlone` says the failure would
   * meet each of them too (the database stayed busy).
   */
  constructor(
    private readonly commitAll: (batch: readonly A[]) => R[] | Promise<R[]>,
    private readonly commitOne: (args: A) => R | Promise<R>,
    private readonly worthTryingAlone: (error: unknown) => boolean = () => true,
  ) {}

  submit(args: A): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#pending.push({ args, resolve, reject });
      if (this.#pending.length === 1) setImmediate(() => void this.flush());
    });
  }

  /**
   * Commits what is waiting, after any commit under way: before a write that must come after
   * them, and before closing. Resolves once those writes have their results.
   */
  flush(): Promise<void> {
    this.#committing = this.#committing.then(() => this.#commitPending());
    return this.#committing;
  }

  async #commitPending(): Promise<void> {
    const batch = this.#pending;
    if (batch.length === 0) return;
    this.#pending = [];
    if (batch.length === 1) {
      await this.#commitAlone(batch[0] as Pending<A, R>);
      return;
    }
    let results: R[];
    try {
      results = await this.commitAll(batch.map((write) => write.args));
    } catch (error) {
      if (!this.worthTryingAlone(error)) {
        for (const write of batch) write.reject(error);
        return;
      }
      // The transaction failed as a whole (one write, or the database): each write is tried
      // on its own, so only the ones that fail by themselves fail.
      for (const write of batch) await this.#commitAlone(write);
      return;
    }
    batch.forEach((write, index) => {
      write.resolve(results[index] as R);
    });
  }

  async #commitAlone(write: Pending<A, R>): Promise<void> {
    try {
      write.resolve(await this.commitOne(write.args));
    } catch (error) {
      write.reject(error);
    }
  }
}
