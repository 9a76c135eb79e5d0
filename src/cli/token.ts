import { parseCommandArgs, UsageError } from './args.js';
import { ExitCode } from './exit-codes.js';
import { connectionName, withKeeper } from './open-keeper.js';
import { type CliIO, headerLine } from './output.js';

export const usage =
  'tokenkeeper token [<name>] [--json]\nPrints only a fresh access token, e.g. curl -H "Authorization: Bearer $(tokenkeeper token acme)".\n' +
  '--json prints {"accessToken", "tokenType", "expiresAt", "header": {"name", "value"}}.';

export const options = { json: { type: 'boolean' } } as const;

/** The command that prints a secret, on purpose (with exec and env, which hand one over). */
export async function run(argv: string[], io: CliIO): Promise<number> {
  const parsed = parseCommandArgs(argv, options, usage, io);
  if (!parsed) return ExitCode.ok;
  const { values, positionals } = parsed;
  if (positionals.length > 1) throw new UsageError(`Unexpected argument "${positionals[1]}".`, usage);
  return withKeeper(io, async (keeper) => {
    const name = await connectionName(keeper, io, positionals[0], usage);
    if (!values.json) {
      // The hot path: no more than the token itself.
      io.stdout.write(`${await keeper.getAccessToken(name)}\n`);
      return ExitCode.ok;
    }
    const credential = await keeper.credential(name);
    const { name: headerName, value } = headerLine(credential.header);
    const json = {
      accessToken: credential.accessToken,
      tokenType: credential.tokenType,
      expiresAt: credential.expiresAt === null ? null : new Date(credential.expiresAt).toISOString(),
      header: { name: headerName, value },
    };
    io.stdout.write(`${JSON.stringify(json)}\n`);
    return ExitCode.ok;
  });
}
