/** Argument parsing on node:util parseArgs: no dependency, nothing loaded at start-up. */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { TokenkeeperError } from '../errors.js';

export class UsageError extends TokenkeeperError {
  constructor(message: string, usage?: string) {
    super('USAGE', usage ? `${message}\nUsage: ${usage}` : message);
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

export function parseCommandArgs<O extends Options>(
  argv: string[],
  options: O,
  usage: string,
): ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>> {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, ''), usage);
  }
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
