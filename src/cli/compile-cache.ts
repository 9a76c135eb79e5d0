/**
 * Keeps V8's compiled code of the CLI between runs, so `tokenkeeper token` does not compile its
 * 500 KB bundle from source every time:
 * - Node.js 22.1+: Node's own module compile cache (module.enableCompileCache);
 * - Node.js 20, which has none: the same done here (code-cache.ts).
 *
 * Compiled code is code that runs with the user's credentials in reach, so it is kept only
 * in a folder of the user's own that nobody else can write to, never in the shared temp
 * folder Node picks by default; when that cannot be had, the CLI runs without the cache.
 * NODE_COMPILE_CACHE (Node's own, already on) and NODE_DISABLE_COMPILE_CACHE are obeyed.
 */
import { lstatSync, mkdirSync } from 'node:fs';
import nodeModule, { createRequire } from 'node:module';
import { homedir } from 'node:os';
import path from 'node:path';
import { runWithCodeCache } from './code-cache.js';

type EnableCompileCache = (directory: string) => unknown;

export interface CompileCacheOptions {
  env?: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
  home?: string;
  /** module.enableCompileCache where Node has it. */
  enable?: EnableCompileCache | undefined;
}

/**
 * tokenkeeper's cache folder: `$XDG_CACHE_HOME/tokenkeeper` or `~/.cache/tokenkeeper`
 * (Linux and other Unix), `~/Library/Caches/tokenkeeper` (macOS),
 * `%LOCALAPPDATA%\tokenkeeper\Cache` (Windows).
 */
export function defaultCacheDir(env: NodeJS.ProcessEnv, platform: NodeJS.Platform, home: string): string {
  if (platform === 'win32') {
    const local = env.LOCALAPPDATA;
    const base = local && path.win32.isAbsolute(local) ? local : path.win32.join(home, 'AppData', 'Local');
    return path.win32.join(base, 'tokenkeeper', 'Cache');
  }
  if (platform === 'darwin') return path.posix.join(home, 'Library', 'Caches', 'tokenkeeper');
  const xdg = env.XDG_CACHE_HOME;
  // The XDG spec says a relative value is invalid and must be ignored.
  if (xdg && path.posix.isAbsolute(xdg)) return path.posix.join(xdg, 'tokenkeeper');
  return path.posix.join(home, '.cache', 'tokenkeeper');
}

/**
 * Runs the CLI bundle at `bundlePath` with its compiled code cached: through Node's compile
 * cache where Node has one, else through code-cache.ts; without a cache when neither can be
 * had, and when source maps are on (NODE_OPTIONS=--enable-source-maps), which apply only to
 * files Node's own loader compiles.
 */
export function runCli(bundlePath: string): void {
  const require = createRequire(bundlePath);
  if (typeof (nodeModule as { enableCompileCache?: unknown }).enableCompileCache === 'function') {
    enablePrivateCompileCache();
    require(bundlePath);
    return;
  }
  const folder = process.sourceMapsEnabled ? undefined : privateCacheFolder(process.env);
  if (folder === undefined) require(bundlePath);
  else runWithCodeCache(bundlePath, folder);
}

/** Turns Node's cache on in tokenkeeper's private folder; returns that folder, or undefined when it stays off. */
export function enablePrivateCompileCache(options: CompileCacheOptions = {}): string | undefined {
  const env = options.env ?? process.env;
  const enable =
    'enable' in options
      ? options.enable
      : (nodeModule as { enableCompileCache?: EnableCompileCache }).enableCompileCache;
  if (typeof enable !== 'function' || env.NODE_COMPILE_CACHE) return undefined;
  const directory = privateCacheFolder(env, options);
  if (directory !== undefined) enable(directory);
  return directory;
}

/**
 * tokenkeeper's folder for compiled code, made if needed; undefined when NODE_DISABLE_COMPILE_CACHE
 * is set or no private folder can be had.
 */
export function privateCacheFolder(
  env: NodeJS.ProcessEnv,
  options: Pick<CompileCacheOptions, 'platform' | 'home'> = {},
): string | undefined {
  if (env.NODE_DISABLE_COMPILE_CACHE) return undefined;
  const platform = options.platform ?? process.platform;
  try {
    // homedir() throws for a user with neither HOME nor an entry in the user database.
    const root = defaultCacheDir(env, platform, options.home ?? homedir());
    const directory = path.join(root, 'node-compile-cache');
    mkdirSync(directory, { recursive: true, mode: 0o700 });
    // Windows: %LOCALAPPDATA% is the user's own by its access list.
    if (platform !== 'win32' && !(isPrivate(root) && isPrivate(directory))) return undefined;
    return directory;
  } catch {
    return undefined; // no home, a read-only one, a file in the way: run without it
  }
}

/** A real folder (not a link), the user's own, that no group or other user may write to. */
function isPrivate(folder: string): boolean {
  const stats = lstatSync(folder);
  return stats.isDirectory() && stats.uid === process.getuid?.() && (stats.mode & 0o022) === 0;
}
