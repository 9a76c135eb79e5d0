/**
 * Argument checks shared by every backend, so that all of them accept and refuse the
 * same inputs (a name that works in memory must work in PostgreSQL too).
 */

import { ConfigError, StoreError } from '../errors.js';
import type { ConnectionMeta, StoredConnectionMeta } from './types.js';

export const MAX_NAME_LENGTH = 256;

// Control characters (NUL cannot be stored in PostgreSQL text at all).
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

/**
 * The one rule for connection names, which the keeper applies to every name it is given.
 * A store holds more (any name of 1 to MAX_NAME_LENGTH characters without control
 * characters), but a connection's name also travels in CLI arguments, shell completion,
 * environment variables and the daemon's URL paths.
 */
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const CONNECTION_NAME_RULE =
  '1-64 letters, digits, dots, dashes or underscores, starting with a letter or digit';

export function validateName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    throw new ConfigError(`${shownName(name)} is not a valid connection name: use ${CONNECTION_NAME_RULE}.`);
  }
}

export function assertConnectionName(name: unknown): asserts name is string {
  if (
    typeof name !== 'string' ||
    name.length === 0 ||
    name.length > MAX_NAME_LENGTH ||
    CONTROL_CHARACTERS.test(name)
  ) {
    throw new ConfigError(
      `A store keeps names of 1 to ${MAX_NAME_LENGTH} characters without control characters, and ${shownName(name)} is not one; ` +
        `name connections with ${CONNECTION_NAME_RULE}.`,
    );
  }
}

function shownName(name: unknown): string {
  if (typeof name === 'string') return JSON.stringify(name.slice(0, 60));
  if (name === undefined || name === null) return String(name);
  return typeof name === 'object' ? 'an object' : `a ${typeof name}`;
}

export function assertExpectedVersion(expectedVersion: unknown): asserts expectedVersion is number | null {
  if (expectedVersion === null) return;
  if (typeof expectedVersion !== 'number' || !Number.isSafeInteger(expectedVersion) || expectedVersion < 0) {
    throw new ConfigError(
      `expectedVersion must be null, 0 or the version last read from the store (got ${String(expectedVersion)}).`,
    );
  }
}

export function assertLockArguments(owner: unknown, ttlMs?: unknown): asserts owner is string {
  if (typeof owner !== 'string' || owner.length === 0 || owner.length > 512) {
    throw new ConfigError(
      'A lock owner must be a non-empty string of at most 512 characters; pass a random token.',
    );
  }
  if (ttlMs === undefined) return;
  if (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs < 1 || ttlMs > 2 ** 31 - 1) {
    throw new ConfigError(
      `A lock lease must last between 1 ms and about 24 days (got ${String(ttlMs)}); pass ttlMs in milliseconds.`,
    );
  }
}

/** The metadata as the JSON text every backend stores; refuses what JSON cannot carry. */
export function serializeMeta(meta: unknown): string {
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) {
    throw new ConfigError('Connection metadata must be a plain JSON object.');
  }
  let text: string | undefined;
  try {
    text = JSON.stringify(meta);
  } catch (error) {
    throw new ConfigError(
      'Connection metadata must be plain JSON (no cycles, no BigInt); fix what the keeper stores.',
      { cause: error },
    );
  }
  if (text === undefined) throw new ConfigError('Connection metadata must be a plain JSON object.');
  return text;
}

export function assertSealed(sealed: unknown): asserts sealed is string {
  if (typeof sealed !== 'string') {
    throw new ConfigError('The sealed secrets must be a string produced by SecretBox.seal().');
  }
}

export function parseMeta(text: unknown, name: string, location: string): ConnectionMeta {
  if (text !== null && typeof text === 'object' && !Array.isArray(text)) return text as ConnectionMeta;
  try {
    const value: unknown = typeof text === 'string' ? JSON.parse(text) : undefined;
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as ConnectionMeta;
  } catch {
    // reported below
  }
  throw new StoreError(
    `The stored metadata of ${JSON.stringify(name)} in ${location} is not a JSON object; ` +
      `run \`tokenkeeper logout ${name}\` and log in again.`,
  );
}

export function closedError(kind: string, location: string): StoreError {
  return new StoreError(
    `The ${kind} store at ${location} is closed; open it again (each keeper opens its own).`,
  );
}

/** Checks a put's arguments the same way in every backend; returns the metadata as JSON to store. */
export function checkPut(
  name: unknown,
  meta: unknown,
  sealed: unknown,
  expectedVersion: unknown,
  fence?: unknown,
): string {
  assertConnectionName(name);
  assertExpectedVersion(expectedVersion);
  assertSealed(sealed);
  if (fence !== undefined) assertLockArguments(fence);
  return serializeMeta(meta);
}

/** A listed row without its sealed secrets, with the metadata parsed. */
export function toStoredMeta(
  row: { name: string; meta: unknown; version: number | string },
  location: string,
): StoredConnectionMeta {
  return { name: row.name, meta: parseMeta(row.meta, row.name, location), version: Number(row.version) };
}

/** An epoch-millisecond time from the caller's clock, as the due index stores it (whole ms). */
export function checkEpochMs(what: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 8.64e15) {
    throw new ConfigError(`${what} must be a time in epoch milliseconds (got ${String(value)}).`);
  }
  return Math.round(value);
}

/** A duration in ms for the due index (a claim lease, a heartbeat's life). */
export function checkDurationMs(what: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 1 || value > 2 ** 31 - 1) {
    throw new ConfigError(`${what} must last between 1 ms and about 24 days (got ${String(value)}).`);
  }
  return Math.ceil(value);
}

/** How many due entries one claim may take. */
export function checkClaimLimit(limit: unknown): number {
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > 10_000) {
    throw new ConfigError(`A claim takes 1 to 10000 entries at a time (got ${String(limit)}).`);
  }
  return limit;
}

export function assertDaemonId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || id.length === 0 || id.length > 512 || CONTROL_CHARACTERS.test(id)) {
    throw new ConfigError(
      'A daemon id must be 1 to 512 characters without control characters; pass a random token.',
    );
  }
}
