import { parseCommandArgs, requirePositionals } from './args.js';
import { ExitCode } from './exit-codes.js';
import { withKeeper } from './open-keeper.js';
import type { CliIO } from './output.js';

const usage =
  'tokenkeeper token <name>\nPrints only a fresh access token, e.g. curl -H "Authorization: Bearer $(tokenkeeper token acme)"';

/** The one command that prints a secret, on purpose. */
export async function run(argv: string[], io: CliIO): Promise<number> {
  const parsed = parseCommandArgs(argv, {}, usage, io);
  if (!parsed) return ExitCode.ok;
  const { positionals } = parsed;
  const [name] = requirePositionals(positionals, ['<name>'], usage) as [string];
  const token = await withKeeper(io, (keeper) => keeper.getAccessToken(name));
  io.stdout.write(`${token}\n`);
  return ExitCode.ok;
}
