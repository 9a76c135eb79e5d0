/**
 * Argument parsing on node:util parseArgs: no dependency, nothing loaded at start-up.
 * Every mistake is reported in our words, with a "did you mean" when a flag is close
 * to a known one: Node's own parser messages never reach the user.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { TokenkeeperError } from '../errors.js';
import { didYouMean } from '../suggest.js';
import type { TextOutput } from './standard-output.js';

// Re-exported so that every "did you mean" loads with the argument parser: one module fewer at start-up.
export { didYouMean, similar } from '../suggest.js';

export class UsageError extends TokenkeeperError {
  constructor(message: string, usage?: string) {
    super('USAGE', usage ? `${message}\nUsage: ${usage}` : message);
  }
}

/** The person pressed Ctrl-C at a prompt: exit 130, like a shell. */
export class CancelledError extends TokenkeeperError {
  constructor() {
    super('USAGE', 'Cancelled.');
    this.name = 'CancelledError';
  }
}

export type Options = NonNullable<ParseArgsConfig['options']>;

/** What every command module exports: its help text and its flags (also used by `completion`). */
export interface CommandSpec {
  usage: string;
  options: Options;
}

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
  io: { stdout: TextOutput },
): ParsedCommandArgs<O> | undefined {
  const all: Options = { ...options, ...helpOption };
  checkFlags(argv, all, usage);
  let parsed: ParsedCommandArgs<O>;
  try {
    parsed = parseArgs({
      args: argv,
      options: all as O & typeof helpOption,
      allowPositionals: true,
      strict: true,
    });
  } catch {
    // checkFlags catches what parseArgs refuses; this stays a plain message if both disagree.
    throw new UsageError('These arguments cannot be read.', usage);
  }
  if ((parsed.values as { help?: boolean }).help) {
    io.stdout.write(`Usage: ${usage}\n`);
    return undefined;
  }
  return parsed;
}

/** The checks parseArgs would make, with our own messages and suggestions. */
export function checkFlags(argv: string[], options: Options, usage: string): void {
  const longNames = Object.keys(options);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') return;
    if (!arg.startsWith('-') || arg === '-') continue;
    const isLong = arg.startsWith('--');
    const [rawName, inlineValue] = isLong ? splitOnce(arg.slice(2), '=') : [arg.slice(1, 2), undefined];
    const name = isLong ? rawName : longNames.find((long) => options[long]?.short === rawName);
    const option = name === undefined ? undefined : options[name];
    if (!option || name === undefined) {
      const shown = isLong ? `--${rawName}` : `-${rawName}`;
      const close = didYouMean(rawName, longNames);
      throw new UsageError(`Unknown flag ${shown}.${close ? ` Did you mean --${close}?` : ''}`, usage);
    }
    if (option.type === 'boolean') {
      if (inlineValue !== undefined) throw new UsageError(`--${name} takes no value.`, usage);
      if (!isLong && arg.length > 2) throw new UsageError(`Write -${rawName} on its own.`, usage);
      continue;
    }
    if (inlineValue !== undefined || (!isLong && arg.length > 2)) continue;
    const next = argv[i + 1];
    if (next !== undefined && /^-\d/.test(next)) {
      // A negative number reads as a flag to parseArgs; say how to give it, so the option's
      // own check can say whether it takes one.
      throw new UsageError(`--${name} needs a value; to give it "${next}", write --${name}=${next}.`, usage);
    }
    if (next === undefined || (next.startsWith('-') && next !== '-' && next !== '--')) {
      throw new UsageError(`--${name} needs a value.`, usage);
    }
    i += 1;
  }
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at === -1 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
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
