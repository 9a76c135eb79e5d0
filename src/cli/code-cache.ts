/**
 * Node.js 20 has no module compile cache, so the CLI bundle would be compiled from source on
 * every run: about a sixth of `tokenkeeper token`. This does what Node 22's cache does, for
 * that one file: it compiles the bundle with vm.Script, hands V8 the code it kept from an
 * earlier run, and calls the result the way Node's CommonJS loader calls a module.
 *
 * Kept code is used only for the very file it was made from. The cache file's name holds the
 * Node.js version and architecture, its first line the bundle's device, inode, size and
 * modification and change times (a file written again has a new change time); V8 checks its
 * own version, flags and the source length besides, and refuses data it cannot use. Missing,
 * stale or refused code is compiled from source, and a new cache is written when the command
 * ends, so it holds the functions that command ran. It is written to a file of its own and
 * renamed into place: a reader never sees half of one.
 *
 * What a cache holds is what V8 loads at every start, so it matters which command made it. The
 * commands scripts run often (quick ones: `token`, `exec`, `env`) need little; `login`, `serve`
 * or `demo` compile much more (grants, the daemon, the emulators), which would cost every later
 * `token` about 10 ms to load. So the second line of a cache says whether a quick command made
 * it, and the next quick command compiles from source and replaces one that another made.
 */
import { readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import nodeModule, { createRequire } from 'node:module';
import path from 'node:path';
import vm from 'node:vm';

export interface CodeCacheOptions {
  /** The command is a quick one: a cache another command made is replaced by this one's. */
  quick?: boolean;
}

/** Runs the CommonJS file at `mainPath` from compiled code kept in `folder` (a private one). */
export function runWithCodeCache(mainPath: string, folder: string, options: CodeCacheOptions = {}): void {
  // The bundle is ASCII (scripts/bundle-cli.mjs checks it): read as latin1, it needs no UTF-8 decoding.
  const source = readFileSync(mainPath, 'latin1');
  const cacheFile = path.join(folder, cacheFileName(mainPath));
  const identity = identityOf(mainPath);
  const madeBy: Maker = options.quick ? 'quick' : 'other';
  const found = readKeptCode(cacheFile, identity);
  // Code another command kept is not loaded by a quick one, which keeps its own instead: the
  // code V8 hands back at the end holds everything loaded, and would be as large again.
  const kept = madeBy === 'quick' && found?.madeBy === 'other' ? undefined : found;
  // A `#!` line is valid only at the very start of a script; `//` keeps every column in place.
  // No import() callback: the bundle has no import() (bundle-cli.mjs), since Node 20 loses the
  // callback of code that comes from a cache.
  const script = new vm.Script(nodeModule.wrap(source.replace(/^#!/, '//')), {
    filename: mainPath,
    ...(kept ? { cachedData: kept.code } : {}),
  });
  if (kept === undefined || script.cachedDataRejected) {
    process.once('exit', () => keepCode(cacheFile, `${identity}${madeBy}\n`, script));
  }
  const cjsModule = new nodeModule(mainPath);
  cjsModule.filename = mainPath;
  const run = script.runInThisContext() as (...args: unknown[]) => void;
  run.call(
    cjsModule.exports,
    cjsModule.exports,
    createRequire(mainPath),
    cjsModule,
    mainPath,
    path.dirname(mainPath),
  );
}

/** One cache per Node.js build and bundle path, so two installs do not overwrite each other's. */
export function cacheFileName(mainPath: string): string {
  return `tokenkeeper-${process.version}-${process.arch}-${shortHash(mainPath)}.v8`;
}

function identityOf(mainPath: string): string {
  const stats = statSync(mainPath, { bigint: true });
  return `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}\n`;
}

type Maker = 'quick' | 'other';

/** The kept code and who made it, when the cache file was made from this very bundle; else undefined. */
function readKeptCode(cacheFile: string, identity: string): { code: Buffer; madeBy: Maker } | undefined {
  let data: Buffer;
  try {
    data = readFileSync(cacheFile);
  } catch {
    return undefined;
  }
  for (const madeBy of ['quick', 'other'] as const) {
    const header = Buffer.from(`${identity}${madeBy}\n`);
    if (data.length > header.length && data.subarray(0, header.length).equals(header)) {
      return { code: data.subarray(header.length), madeBy };
    }
  }
  return undefined;
}

function keepCode(cacheFile: string, header: string, script: vm.Script): void {
  const partial = `${cacheFile}.${process.pid}.tmp`;
  try {
    writeFileSync(partial, Buffer.concat([Buffer.from(header), script.createCachedData()]), {
      mode: 0o600,
    });
    renameSync(partial, cacheFile);
  } catch {
    // A full disk or a folder gone: the next run compiles from source again.
    rmSync(partial, { force: true });
  }
}

/** FNV-1a, 32 bits, in hex: enough to keep two bundle paths apart, without loading node:crypto. */
function shortHash(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0).toString(16).padStart(8, '0');
}
