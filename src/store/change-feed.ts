/**
 * What PostgreSQL and Redis announce when a row is written or deleted (see
 * TokenStore.watchChanges): one JSON text per change, `{"name", "version", "deleted"}`,
 * built by the database in the statement or script that made the change.
 */
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
