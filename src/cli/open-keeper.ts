import { createKeeper, type Keeper } from '../keeper.js';
import { UsageError } from './args.js';
import { trackOpenKeeper } from './open-keepers.js';
import type { CliIO } from './output.js';

/** The CLI's keeper: one short-lived process, so no background refresh timers. */
export function openKeeper(io: CliIO): Keeper {
  return createKeeper({ proactiveRefresh: false, env: io.env });
}

export async function withKeeper<T>(io: CliIO, work: (keeper: Keeper) => Promise<T>): Promise<T> {
  const keeper = openKeeper(io);
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
