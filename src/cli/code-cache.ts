/**
 * Node.js 20 has no module compile cache, so a CLI bundle would be compiled from source on
 * every run: about a sixth of `tokenkeeper token`. This does what Node 22's cache does, for
 * the bundle a command runs: it compiles the bundle with vm.Script, hands V8 the code it kept
 * from an earlier run, and calls the result the way Node's CommonJS loader calls a module.
 *
 * Kept code is used only for the very file it was made from. The cache file's name holds the
 * Node.js version and architecture, its first line the bundle's device, inode, size and
 * modification and change times (a file written again has a new change time); V8 checks its
 * own version, flags and the source length besides, and refuses data it cannot use. Missing,
 * stale or refused code is compiled from source, and a new cache is written when a command
 * that succeeded ends, so it holds the functions that command ran. It is written to a file of
 * its own and renamed into place: a reader never sees half of one.
 *
 * What a cache holds is what V8 loads at every start: every function the run that made it
 * compiled. So the commands scripts run most have a bundle, and thus a cache, of their own
 * (bundles.ts), which a `login` or `demo` never fills with its grants, daemon or emulators.
 */
import { readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import nodeModule, { createRequire } from 'node:module';
import path from 'node:path';
import vm from 'node:vm';

/** Runs the CommonJS file at `mainPath` from compiled code kept in `folder` (a private one). */
export function runWithCodeCache(mainPath: string, folder: string): void {
  // The bundle is ASCII (scripts/bundle-cli.mjs checks it): read as latin1, it needs no UTF-8 decoding.
  const source = readFileSync(mainPath, 'latin1');
  const cacheFile = path.join(folder, cacheFileName(mainPath));
  const identity = identityOf(mainPath);
  const kept = readKeptCode(cacheFile, identity);
  // A `#!` line is valid only at the very start of a script; `//` keeps every column in place.
  // No import() callback: the bundle has no import() (bundle-cli.mjs), since Node 20 loses the
  // callback of code that comes from a cache.
  const script = new vm.Script(nodeModule.wrap(source.replace(/^#!/, '//')), {
    filename: mainPath,
    ...(kept ? { cachedData: kept } : {}),
  });
  if (kept === undefined || script.cachedDataRejected) {
    // Only a run that succeeded: a `token` that failed (no such connection, a typo) ran little
    // of what one that works runs, and its code would be what every later start loads.
    process.once('exit', (code) => {
      if (code === 0) keepCode(cacheFile, identity, script);
    });
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

/** The kept code, when the cache file was made from this very bundle; else undefined. */
function readKeptCode(cacheFile: string, identity: string): Buffer | undefined {
  let data: Buffer;
  try {
    data = readFileSync(cacheFile);
  } catch {
    return undefined;
  }
  const header = Buffer.from(identity);
  if (data.length <= header.length || !data.subarray(0, header.length).equals(header)) return undefined;
  return data.subarray(header.length);
}

function keepCode(cacheFile: string, identity: string, script: vm.Script): void {
  const partial = `${cacheFile}.${process.pid}.tmp`;
  try {
    writeFileSync(partial, Buffer.concat([Buffer.from(identity), script.createCachedData()]), {
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
