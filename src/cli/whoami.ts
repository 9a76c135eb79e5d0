import { summariseIdentity } from '../identity.js';
import { parseCommandArgs, requirePositionals } from './args.js';
import { ExitCode } from './exit-codes.js';
import { withKeeper } from './open-keeper.js';
import type { CliIO } from './output.js';

const usage = 'tokenkeeper whoami <name> [--json]\nAsks the provider who owns the connection’s credential.';

export async function run(argv: string[], io: CliIO): Promise<number> {
  const parsed = parseCommandArgs(argv, { json: { type: 'boolean' } }, usage, io);
  if (!parsed) return ExitCode.ok;
  const { values, positionals } = parsed;
  const [name] = requirePositionals(positionals, ['<name>'], usage) as [string];
  const identity = await withKeeper(io, (keeper) => keeper.whoami(name));
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
