/**
 * Node.js 22.1+ can keep V8's compiled code of the CLI between runs (module compile cache):
 * on Node 24, `tokenkeeper token` then starts about a sixth sooner (bench cli-token). Node
 * 20 has no such cache, and the CLI runs as before.
 *
 * Compiled code is code that runs with the user's credentials in reach, so it is kept only
 * in a folder of the user's own that nobody else can write to, never in the shared temp
 * folder Node picks by default; when that cannot be had, the CLI runs without the cache.
 * NODE_COMPILE_CACHE (Node's own, already on) and NODE_DISABLE_COMPILE_CACHE are obeyed.
 */
import { lstatSync, mkdirSync } from 'node:fs';
import nodeModule from 'node:module';
import { homedir } from 'node:os';
import path from 'node:path';

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

/** Turns the cache on in tokenkeeper's private folder; returns that folder, or undefined when it stays off. */
export function enablePrivateCompileCache(options: CompileCacheOptions = {}): string | undefined {
  const env = options.env ?? process.env;
  const enable =
    'enable' in options
      ? options.enable
      : (nodeModule as { enableCompileCache?: EnableCompileCache }).enableCompileCache;
  if (typeof enable !== 'function' || env.NODE_COMPILE_CACHE || env.NODE_DISABLE_COMPILE_CACHE)
    return undefined;
  const platform = options.platform ?? process.platform;
  let directory: string;
  try {
    // homedir() throws for a user with neither HOME nor an entry in the user database.
    const root = defaultCacheDir(env, platform, options.home ?? homedir());
    directory = path.join(root, 'node-compile-cache');
    mkdirSync(directory, { recursive: true, mode: 0o700 });
    // Windows: %LOCALAPPDATA% is the user's own by its access list.
    if (platform !== 'win32' && !(isPrivate(root) && isPrivate(directory))) return undefined;
  } catch {
    return undefined; // no home, a read-only one, a file in the way: run without it
  }
  enable(directory);
  return directory;
}

/** A real folder (not a link), the user's own, that no group or other user may write to. */
function isPrivate(folder: string): boolean {
  const stats = lstatSync(folder);
  return stats.isDirectory() && stats.uid === process.getuid?.() && (stats.mode & 0o022) === 0;
}
