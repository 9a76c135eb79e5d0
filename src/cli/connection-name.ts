/**
 * Which connection a command is about when the user leaves `<name>` out:
 * TOKENKEEPER_CONNECTION, else the only connection there is. Scripts that use one
 * connection never have to repeat its name.
 */
import type { Keeper } from '../keeper.js';
import { UsageError } from './args.js';
import { newLoginCommands } from './hints.js';
import type { CliIO } from './output.js';

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
    throw new UsageError(
      `There are no connections yet. Create one with:\n${newLoginCommands('NAME').join('\n')}`,
    );
  }
  throw new UsageError(`Say which connection: ${names.join(', ')} (or set TOKENKEEPER_CONNECTION).`, usage);
}
