import { parseCommandArgs, requirePositionals } from './args.js';
import { ExitCode } from './exit-codes.js';
import { withKeeper } from './open-keeper.js';
import { type CliIO, formatInstant, say } from './output.js';

const usage =
  'tokenkeeper refresh <name>\nReplaces the connection’s tokens now, even if they are still fresh.';

export async function run(argv: string[], io: CliIO): Promise<number> {
  const parsed = parseCommandArgs(argv, {}, usage, io);
  if (!parsed) return ExitCode.ok;
  const { positionals } = parsed;
  const [name] = requirePositionals(positionals, ['<name>'], usage) as [string];
  const info = await withKeeper(io, (keeper) => keeper.refresh(name));
  say(io, `Refreshed "${name}"; the access token is valid until ${formatInstant(info.expiresAt)}.`);
  return ExitCode.ok;
}
