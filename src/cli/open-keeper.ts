import { existsSync } from 'node:fs';
import { createKeeper, type Keeper } from '../keeper.js';
import { parseStoreLocation } from '../store/open-store.js';
import { UsageError } from './args.js';
import { trackOpenKeeper } from './open-keepers.js';
import type { CliIO } from './output.js';

/**
 * The CLI's keeper: one short-lived process, so no background refresh timers. Only a login
 * `creates` the store: for every other command a SQLite store that does not exist yet reads
 * as an empty one, so a mistyped --store leaves no new database and key file behind.
 */
export function openKeeper(io: CliIO, { creates = false }: { creates?: boolean } = {}): Keeper {
  const empty = !creates && missingSqliteStore(io.env) !== undefined;
  return createKeeper({ proactiveRefresh: false, env: io.env, ...(empty ? { store: 'memory:' } : {}) });
}

/** The SQLite file the store names (TOKENKEEPER_STORE, --store, the default) when it does not exist. */
export function missingSqliteStore(env: NodeJS.ProcessEnv): string | undefined {
  let target: ReturnType<typeof parseStoreLocation>;
  try {
    target = parseStoreLocation(env.TOKENKEEPER_STORE || undefined, { env });
  } catch {
    return undefined; // createKeeper says what is wrong with it
  }
  return target.kind === 'sqlite' && !existsSync(target.path) ? target.path : undefined;
}

export async function withKeeper<T>(
  io: CliIO,
  work: (keeper: Keeper) => Promise<T>,
  options: { creates?: boolean } = {},
): Promise<T> {
  const keeper = openKeeper(io, options);
  const untrack = trackOpenKeeper(keeper);
  try {
    return await work(keeper);
  } finally {
    untrack();
    await keeper.close();
  }
}

/**
 * Which connection a command is about when the user leaves `<name>` out:
 * TOKENKEEPER_CONNECTION, else the only connection there is. Scripts that use one
 * connection never have to repeat its name.
 */
export async function connectionName(
  keeper: Keeper,
  io: CliIO,
  given: string | undefined,
  usage: string,
): Promise<string> {
  if (given) return given;
  const fromEnv = io.env.TOKENKEEPER_CONNECTION?.trim();
  if (fromEnv) return fromEnv;
  const names = (await keeper.list()).map((c) => c.name);
  if (names.length === 1) return names[0]!;
  if (names.length === 0) {
    const { newLoginCommands } = await import('./hints.js');
    throw new UsageError(
      `There are no connections yet. Create one with:\n${newLoginCommands('NAME').join('\n')}`,
    );
  }
  throw new UsageError(`Say which connection: ${names.join(', ')} (or set TOKENKEEPER_CONNECTION).`, usage);
}
