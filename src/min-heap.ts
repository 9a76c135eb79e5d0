/**
 * A binary min-heap of entries ordered by `at`: push and pop in O(log n). The refresh
 * scheduler and the daemon's in-memory due index keep their entries in one; both delete
 * lazily (an entry whose time no longer matches its owner's is skipped when it comes up),
 * and rebuild the heap with `replaceAll` when stale entries outnumber live ones.
 */
export class MinHeap<E extends { at: number }> {
  #items: E[] = [];

  get size(): number {
    return this.#items.length;
  }

  /** The earliest entry, left in place. */
  peek(): E | undefined {
    return this.#items[0];
  }

  push(entry: E): void {
    const items = this.#items;
    let i = items.push(entry) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((items[parent] as E).at <= entry.at) break;
      items[i] = items[parent] as E;
      i = parent;
    }
    items[i] = entry;
  }

  /** Removes and returns the earliest entry. */
  pop(): E | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (last === undefined || items.length === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= items.length) break;
      const right = left + 1;
      const child = right < items.length && (items[right] as E).at < (items[left] as E).at ? right : left;
      if ((items[child] as E).at >= last.at) break;
      items[i] = items[child] as E;
      i = child;
    }
    items[i] = last;
    return top;
  }

  /** Every entry, in no particular order. */
  entries(): readonly E[] {
    return this.#items;
  }

  /** Empties the heap and fills it with `entries`. */
  replaceAll(entries: Iterable<E>): void {
    this.#items = [];
    for (const entry of entries) this.push(entry);
  }
}
