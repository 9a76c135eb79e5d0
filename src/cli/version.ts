import { parseCommandArgs, requirePositionals } from './args.js';
import { ExitCode } from './exit-codes.js';
import type { CliIO } from './output.js';

export const usage =
  'tokenkeeper version\nPrints tokenkeeper’s version (also `tokenkeeper --version` or `-v`).';

export const options = {} as const;

export async function run(argv: string[], io: CliIO): Promise<number> {
  const parsed = parseCommandArgs(argv, options, usage, io);
  if (!parsed) return ExitCode.ok;
  requirePositionals(parsed.positionals, [], usage);
  io.stdout.write(`${await packageVersion()}\n`);
  return ExitCode.ok;
}

/** The version in tokenkeeper's package.json, found from wherever this file was built to. */
async function packageVersion(): Promise<string> {
  const { readFileSync } = await import('node:fs');
  for (let dir = new URL('.', import.meta.url); dir.pathname !== '/'; dir = new URL('..', dir)) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'tokenkeeper' && pkg.version) return pkg.version;
    } catch {
      // not here: look one directory up
    }
  }
  return 'unknown';
}
