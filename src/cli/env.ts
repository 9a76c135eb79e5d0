import { parseCommandArgs, UsageError } from './args.js';
import { ExitCode } from './exit-codes.js';
import { credentialVariables } from './handover.js';
import { connectionName, withKeeper } from './open-keeper.js';
import type { CliIO } from './output.js';

export const usage =
  'tokenkeeper env [<name>]\nPrints a fresh credential as shell export lines (TOKENKEEPER_ACCESS_TOKEN and\n' +
  'TOKENKEEPER_AUTH_HEADER), e.g. eval "$(tokenkeeper env acme)" && curl -H "$TOKENKEEPER_AUTH_HEADER" …';

export const options = {} as const;

/** Hands a secret over on stdout, on purpose: meant for eval in a script. */
export async function run(argv: string[], io: CliIO): Promise<number> {
  const parsed = parseCommandArgs(argv, options, usage, io);
  if (!parsed) return ExitCode.ok;
  const { positionals } = parsed;
  if (positionals.length > 1) throw new UsageError(`Unexpected argument "${positionals[1]}".`, usage);
  const variables = await withKeeper(io, async (keeper) =>
    credentialVariables(keeper, await connectionName(keeper, io, positionals[0], usage)),
  );
  for (const [key, value] of Object.entries(variables))
    io.stdout.write(`export ${key}=${shellQuote(value)}\n`);
  return ExitCode.ok;
}

/** Single quotes keep every character as is in sh, bash and zsh; a quote inside is closed, escaped, reopened. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
