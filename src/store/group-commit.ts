/**
 * Group commit: the writes that arrive in one turn of the event loop are committed together,
 * in one transaction with one fsync, and each caller learns its own result once that commit
 * is durable. A lone write waits for nothing but the end of the current turn.
 *
 * Why: a synced SQLite commit blocks the event loop until the disk has it (and the fsync
 * also flushes what the store's unsynced connection wrote since). A daemon finishing hundreds
 * of refreshes a second spent most of its time there; the responses that arrive while one
 * commit blocks are handled in the next turn, and their writes now share the next commit.
 */

interface Pending<A, R> {
  args: A;
  resolve: (result: R) => void;
  reject: (error: unknown) => void;
}

export class GroupCommit<A, R> {
  #pending: Array<Pending<A, R>> = [];

  /**
   * `commitAll` runs every write of a batch in one transaction and returns their results in
   * order; `commitOne` runs one write in a transaction of its own.
   */
  constructor(
    private readonly commitAll: (batch: readonly A[]) => R[],
    private readonly commitOne: (args: A) => R,
  ) {}

  submit(args: A): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#pending.push({ args, resolve, reject });
      if (this.#pending.length === 1) setImmediate(() => this.flush());
    });
  }

  /** Commits what is waiting now: before a write that must come after them, and before closing. */
  flush(): void {
    const batch = this.#pending;
    if (batch.length === 0) return;
    this.#pending = [];
    if (batch.length === 1) {
      this.#commitAlone(batch[0] as Pending<A, R>);
      return;
    }
    let results: R[];
    try {
      results = this.commitAll(batch.map((write) => write.args));
    } catch {
      // The transaction failed as a whole (one write, or the database): each write is tried
      // on its own, so only the ones that fail by themselves fail.
      for (const write of batch) this.#commitAlone(write);
      return;
    }
    batch.forEach((write, index) => {
      write.resolve(results[index] as R);
    });
  }

  #commitAlone(write: Pending<A, R>): void {
    try {
      write.resolve(this.commitOne(write.args));
    } catch (error) {
      write.reject(error);
    }
  }
}
