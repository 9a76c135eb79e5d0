/**
 * Which better-sqlite3 to load. Up to major 12 it is built on Node's internal
 * ObjectWrap, whose destructor aborts the process on Node 24.19+ when a prepared
 * statement is garbage-collected (`RemoveEnvironmentCleanupHook: (env) != nullptr`).
 * Major 13 moved to Node-API and ships prebuilt binaries, but needs Node 22. So both
 * are dependencies: 13 (under the alias `better-sqlite3-napi`) from Node 22 on, and
 * 12, built for this Node at install, on Node 20 and 21. The API is the same.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';

export type SqliteDriver = typeof BetterSqlite3;

export const SQLITE_DRIVER_PACKAGE =
  Number(process.versions.node.split('.')[0]) >= 22 ? 'better-sqlite3-napi' : 'better-sqlite3';

/**
 * Loaded with require: the driver is CommonJS, and importing it would start Node's CommonJS
 * export scanner on its files, a few ms of every CLI start.
 */
export async function loadSqliteDriver(): Promise<SqliteDriver> {
  return createRequire(import.meta.url)(SQLITE_DRIVER_PACKAGE) as SqliteDriver;
}

/**
 * Options that spare better-sqlite3 12 its `bindings` lookup (a dozen stat calls,
 * a few ms of every CLI start) by naming the addon it built at install.
 */
export function sqliteDriverOptions(): { nativeBinding?: string } {
  if (SQLITE_DRIVER_PACKAGE !== 'better-sqlite3') return {};
  try {
    const packageJson = createRequire(import.meta.url).resolve('better-sqlite3/package.json');
    const addon = packageJson.replace(/package\.json$/, 'build/Release/better_sqlite3.node');
    return existsSync(addon) ? { nativeBinding: addon } : {};
  } catch {
    return {};
  }
}
