/** Argument parsing on node:util parseArgs: no dependency, nothing loaded at start-up. */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { TokenkeeperError } from '../errors.js';

export class UsageError extends TokenkeeperError {
  constructor(message: string, usage?: string) {
    super('USAGE', usage ? `${message}\nUsage: ${usage}` : message);
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

const helpOption = { help: { type: 'boolean', short: 'h' } } as const;

type ParsedCommandArgs<O extends Options> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O & typeof helpOption; allowPositionals: true; strict: true }>
>;

/**
 * Parses a command's arguments, with `--help`/`-h` for every command: then the
 * usage is printed and undefined returned, so the command just returns 0.
 */
export function parseCommandArgs<O extends Options>(
  argv: string[],
  options: O,
  usage: string,
  io: { stdout: NodeJS.WritableStream },
): ParsedCommandArgs<O> | undefined {
  let parsed: ParsedCommandArgs<O>;
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...options, ...helpOption },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, ''), usage);
  }
  if ((parsed.values as { help?: boolean }).help) {
    io.stdout.write(`Usage: ${usage}\n`);
    return undefined;
  }
  return parsed;
}

export function requirePositionals(positionals: string[], names: string[], usage: string): string[] {
  if (positionals.length < names.length) {
    throw new UsageError(`Missing ${names.slice(positionals.length).join(' and ')}.`, usage);
  }
  if (positionals.length > names.length) {
    throw new UsageError(`Unexpected argument "${positionals[names.length]}".`, usage);
  }
  return positionals;
}
