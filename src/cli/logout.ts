import { TokenkeeperError } from '../errors.js';
import { parseCommandArgs, requirePositionals } from './args.js';
import { ExitCode } from './exit-codes.js';
import { withKeeper } from './open-keeper.js';
import { type CliIO, say } from './output.js';

const usage = 'tokenkeeper logout <name>\nForgets the connection and its secrets on this machine.';

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { help: { type: 'boolean', short: 'h' } }, usage);
  if (values.help) {
    io.stdout.write(`Usage: ${usage}\n`);
    return ExitCode.ok;
  }
  const [name] = requirePositionals(positionals, ['<name>'], usage) as [string];
  const forgotten = await withKeeper(io, (keeper) => keeper.forget(name));
  if (!forgotten) {
    throw new TokenkeeperError(
      'NOT_FOUND',
      `There is no connection named "${name}"; \`tokenkeeper status\` lists them.`,
    );
  }
  say(io, `Logged out of "${name}": its tokens and credentials were removed from this machine's store.`);
  return ExitCode.ok;
}
