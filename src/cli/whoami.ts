import { summariseIdentity } from '../identity.js';
import { parseCommandArgs, UsageError } from './args.js';
import { ExitCode } from './exit-codes.js';
import { connectionName, withKeeper } from './open-keeper.js';
import type { CliIO } from './output.js';

export const usage =
  'tokenkeeper whoami [<name>] [--json]\nAsks the provider who owns the connection’s credential.';

export const options = { json: { type: 'boolean' } } as const;

export async function run(argv: string[], io: CliIO): Promise<number> {
  const parsed = parseCommandArgs(argv, options, usage, io);
  if (!parsed) return ExitCode.ok;
  const { values, positionals } = parsed;
  if (positionals.length > 1) throw new UsageError(`Unexpected argument "${positionals[1]}".`, usage);
  const identity = await withKeeper(io, async (keeper) =>
    keeper.whoami(await connectionName(keeper, io, positionals[0], usage)),
  );
  if (values.json) {
    io.stdout.write(`${JSON.stringify(identity.body, null, 2)}\n`);
    return ExitCode.ok;
  }
  const summary = summariseIdentity(identity.body);
  const width = Math.max(0, ...Object.keys(summary).map((k) => k.length));
  const lines = Object.entries(summary).map(([key, value]) => `${key.padEnd(width)}  ${value}`);
  io.stdout.write(`${lines.length > 0 ? lines.join('\n') : JSON.stringify(identity.body, null, 2)}\n`);
  io.stderr.write(`(from ${identity.endpoint})\n`);
  return ExitCode.ok;
}
