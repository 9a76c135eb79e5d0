import { parseCommandArgs, UsageError } from './args.js';
import { ExitCode } from './exit-codes.js';
import { connectionName, withKeeper } from './open-keeper.js';
import { type CliIO, formatInstant, say } from './output.js';

export const usage =
  'tokenkeeper refresh [<name>]\nReplaces the connection’s tokens now, even if they are still fresh.';

export const options = {} as const;

export async function run(argv: string[], io: CliIO): Promise<number> {
  const parsed = parseCommandArgs(argv, options, usage, io);
  if (!parsed) return ExitCode.ok;
  const { positionals } = parsed;
  if (positionals.length > 1) throw new UsageError(`Unexpected argument "${positionals[1]}".`, usage);
  const { name, info } = await withKeeper(io, async (keeper) => {
    const name = await connectionName(keeper, io, positionals[0], usage);
    return { name, info: await keeper.refresh(name) };
  });
  say(io, `Refreshed "${name}"; the access token is valid until ${formatInstant(info.expiresAt)}.`);
  return ExitCode.ok;
}
