/** What the figures were measured on: the machine, Node, and every package version involved. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { SQLITE_DRIVER_PACKAGE } from '../../src/store/sqlite-driver.js';

export interface MachineInfo {
  cpu: string;
  cores: number;
  memory: string;
  os: string;
  node: string;
  undici: string;
  v8: string;
}

const require = createRequire(import.meta.url);

export function describeMachine(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memory: `${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    os: `${os.type()} ${os.release()} (${os.arch()})`,
    node: process.version,
    undici: process.versions.undici ?? 'unknown',
    v8: process.versions.v8,
  };
}

/** The packages whose code the figures exercise, as installed (the SQLite driver is added as used). */
export const MEASURED_PACKAGES = [
  'oauth4webapi',
  'axios',
  'axios-auth-refresh',
  'openid-client',
  'simple-oauth2',
] as const;

export function packageVersions(): Record<string, string> {
  const versions: Record<string, string> = { tokenkeeper: `${ownVersion()} (${sourceState()})` };
  // On this Node, the store loads one of two better-sqlite3 majors (see src/store/sqlite-driver.ts).
  const driver =
    SQLITE_DRIVER_PACKAGE === 'better-sqlite3'
      ? 'better-sqlite3'
      : `better-sqlite3 (as ${SQLITE_DRIVER_PACKAGE})`;
  versions[driver] = installedVersion(SQLITE_DRIVER_PACKAGE);
  for (const name of MEASURED_PACKAGES) versions[name] = installedVersion(name);
  versions.sqlite = sqliteVersion();
  return versions;
}

function ownVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/**
 * The commit measured, and whether src/ differed from it: the bench builds the work
 * tree as it is, and other work may be under way in it.
 */
function sourceState(): string {
  const root = new URL('../../../', import.meta.url);
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: root, encoding: 'utf8' }).trim();
    const commit = git('rev-parse', '--short', 'HEAD');
    return git('status', '--porcelain', '--', 'src') ? `${commit} + uncommitted changes in src/` : commit;
  } catch {
    return 'not a git checkout';
  }
}

function installedVersion(name: string): string {
  try {
    // Resolve the package's entry, then walk up to its package.json (some packages do not export it).
    const entry = require.resolve(name);
    const marker = `node_modules/${name}/`;
    const root = entry.slice(0, entry.lastIndexOf(marker) + marker.length);
    const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { version: string };
    return pkg.version;
  } catch {
    return 'not installed';
  }
}

function sqliteVersion(): string {
  try {
    const Database = require(SQLITE_DRIVER_PACKAGE) as typeof import('better-sqlite3');
    const db = new Database(':memory:');
    const version = db.prepare('SELECT sqlite_version() AS v').get() as { v: string };
    db.close();
    return version.v;
  } catch {
    return 'unknown';
  }
}
