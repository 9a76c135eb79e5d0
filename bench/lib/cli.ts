/** Spawning the built tokenkeeper CLI the way a shell script does. */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI_MAIN = fileURLToPath(new URL('../../cli/tokenkeeper.js', import.meta.url));

/** This process's environment, minus anything of tokenkeeper's, plus the store to use. */
export function cliEnv(storePath: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('TOKENKEEPER_')) env[name] = value;
  }
  env.TOKENKEEPER_STORE = storePath;
  // The CLI's compiled code (code-cache.ts, compile-cache.ts) beside the store, not in the user's own cache folder.
  env.XDG_CACHE_HOME = join(dirname(storePath), 'cache');
  return env;
}
