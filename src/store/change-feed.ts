/**
 * What PostgreSQL and Redis announce when a row is written or deleted (see
 * TokenStore.watchChanges): one JSON text per change, `{"name", "version", "deleted"}`,
 * built by the database in the statement or script that made the change.
 */
import { randomUUID } from 'node:crypto';
import type { StoreChange } from './types.js';

/** The change a payload announces; undefined for anything else that reached the channel. */
export function parseStoreChange(payload: string | undefined): StoreChange | undefined {
  if (payload === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { name, version, deleted } = value as Record<string, unknown>;
  if (typeof name !== 'string' || !Number.isSafeInteger(version) || typeof deleted !== 'boolean') {
    return undefined;
  }
  return { name, version: version as number, deleted };
}

/**
 * Echoes a feed sends itself through its store's channel (ChangeFeed.echo): `{"echo": id}`,
 * which no watcher takes for a change (parseStoreChange refuses it), so every feed on the
 * channel passes over the others' echoes.
 */
export class Echoes {
  readonly #waiting = new Map<string, (heard: boolean) => void>();

  /**
   * A new echo: the payload to send, whether it comes back within `withinMs`, and `unsent`
   * for when it could not be sent (it then counts as not heard at once).
   */
  expect(withinMs: number): { payload: string; heard: Promise<boolean>; unsent(): void } {
    const id = randomUUID();
    const heard = new Promise<boolean>((resolve) => {
      // Not unref'd: a caller awaiting an echo is kept waiting for its answer, withinMs at most.
      const timer = setTimeout(() => this.#settle(id, false), withinMs);
      this.#waiting.set(id, (value) => {
        clearTimeout(timer);
        resolve(value);
      });
    });
    return { payload: JSON.stringify({ echo: id }), heard, unsent: () => this.#settle(id, false) };
  }

  /** A payload from the channel: true when it is an echo (this feed's or another's), not a change. */
  take(payload: string | undefined): boolean {
    if (payload === undefined || !payload.startsWith('{"echo":')) return false;
    let id: unknown;
    try {
      id = (JSON.parse(payload) as { echo?: unknown }).echo;
    } catch {
      return true;
    }
    if (typeof id === 'string') this.#settle(id, true);
    return true;
  }

  /** Every echo still waiting is answered: not heard (the feed is closing). */
  close(): void {
    for (const id of [...this.#waiting.keys()]) this.#settle(id, false);
  }

  #settle(id: string, heard: boolean): void {
    const resolve = this.#waiting.get(id);
    if (!resolve) return;
    this.#waiting.delete(id);
    resolve(heard);
  }
}
