/**
 * Which better-sqlite3 to load. Up to major 12 it is built on Node's internal
 * ObjectWrap, whose destructor aborts the process on Node 24.19+ when a prepared
 * statement is garbage-collected (`RemoveEnvironmentCleanupHook: (env) != nullptr`).
 * Major 13 moved to Node-API and ships prebuilt binaries, but needs Node 22. So both
 * are dependencies: 13 (under the alias `better-sqlite3-napi`) from Node 22 on, and
 * 12, built for this Node at install, on Node 20 and 21. The API is the same.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';

export type SqliteDriver = typeof BetterSqlite3;

/**
 * Set by the CLI bundle only (scripts/bundle-cli.mjs): the version of better-sqlite3 whose
 * JavaScript it carries. Requiring the installed copy's dozen files (resolving, reading and
 * compiling each) is about 5 ms of every CLI start on Node 20; the bundled copy runs from the
 * CLI's code cache. It is used only with the addon of that very version, since its JavaScript
 * and its addon change together; any other install loads its own JavaScript.
 */
declare const __TOKENKEEPER_BUNDLED_SQLITE_VERSION__: string | undefined;

export const SQLITE_DRIVER_PACKAGE =
  Number(process.versions.node.split('.')[0]) >= 22 ? 'better-sqlite3-napi' : 'better-sqlite3';

/**
 * Loaded with require: the driver is CommonJS, and importing it would start Node's CommonJS
 * export scanner on its files, a few ms of every CLI start.
 */
export async function loadSqliteDriver(): Promise<SqliteDriver> {
  if (
    typeof __TOKENKEEPER_BUNDLED_SQLITE_VERSION__ === 'string' &&
    SQLITE_DRIVER_PACKAGE === 'better-sqlite3' &&
    installedVersion() === __TOKENKEEPER_BUNDLED_SQLITE_VERSION__
  ) {
    return (await import('better-sqlite3')).default;
  }
  return createRequire(import.meta.url)(SQLITE_DRIVER_PACKAGE) as SqliteDriver;
}

/**
 * Options that spare better-sqlite3 12 its `bindings` lookup (a dozen stat calls,
 * a few ms of every CLI start) by naming the addon it built at install.
 */
export function sqliteDriverOptions(): { nativeBinding?: string } {
  const addon = installedDriver()?.addon;
  return addon === undefined ? {} : { nativeBinding: addon };
}

interface InstalledDriver {
  packageJson: string;
  /** The addon better-sqlite3 12 built at install, when it is there. */
  addon: string | undefined;
}

let installed: InstalledDriver | null | undefined;

/** better-sqlite3 12 as installed beside tokenkeeper; null on Node 22+ or when it cannot be found. */
function installedDriver(): InstalledDriver | null {
  if (installed !== undefined) return installed;
  installed = null;
  if (SQLITE_DRIVER_PACKAGE !== 'better-sqlite3') return installed;
  try {
    const packageJson = createRequire(import.meta.url).resolve('better-sqlite3/package.json');
    const addon = packageJson.replace(/package\.json$/, 'build/Release/better_sqlite3.node');
    installed = { packageJson, addon: existsSync(addon) ? addon : undefined };
  } catch {
    // Not found where Node looks: loadSqliteDriver's require says so in its own words.
  }
  return installed;
}

/** The installed better-sqlite3 12's version; read only where the CLI bundle carries a copy to match. */
function installedVersion(): unknown {
  const driver = installedDriver();
  if (!driver) return undefined;
  try {
    return (JSON.parse(readFileSync(driver.packageJson, 'utf8')) as { version?: unknown }).version;
  } catch {
    return undefined;
  }
}
