/** How the CLI writes: data on stdout, messages for people on stderr. */
import type { ConnectionInfo } from '../connection.js';
import { StandardOutput, type TextOutput } from './standard-output.js';

export interface CliIO {
  stdout: TextOutput;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };
  env: NodeJS.ProcessEnv;
  /**
   * Set when `--store` was given on the command line: points the `tokenkeeper …` commands a
   * message tells a person to run at that store (without it they would reach the default one).
   * Messages on stderr pass through it already; text for people on stdout calls it.
   */
  pointAtStore?: (message: string) => string;
}

export type WriteErrorHandler = (error: NodeJS.ErrnoException, stream: 'stdout' | 'stderr') => void;

/**
 * The process's own input and output, each made on first use: Node builds process.stderr and
 * process.stdin when first touched, loading its net and stream modules for a pipe, and a
 * command that never says anything need not pay for them. stdout: see standard-output.ts.
 * `onWriteError` hears of every failed write to stdout or stderr.
 */
export function processIO(onWriteError: WriteErrorHandler): CliIO {
  const watched = new Set<'stdout' | 'stderr'>();
  const watch = (name: 'stdout' | 'stderr') => {
    const stream = process[name];
    if (!watched.has(name)) {
      watched.add(name);
      stream.on('error', (error: NodeJS.ErrnoException) => onWriteError(error, name));
    }
    return stream;
  };
  return {
    stdout: new StandardOutput({
      stream: () => watch('stdout'),
      onError: (error) => onWriteError(error, 'stdout'),
    }),
    get stderr() {
      return watch('stderr');
    },
    get stdin() {
      return process.stdin;
    },
    env: process.env,
  };
}

/**
 * `io` with some members changed. The others are read from `io` when used (a spread would
 * read them all, making every stream).
 */
export function withChanges(io: CliIO, changes: Partial<CliIO>): CliIO {
  const changed: Partial<CliIO> = {};
  for (const key of ['stdout', 'stderr', 'stdin', 'env', 'pointAtStore'] as const) {
    Object.defineProperty(changed, key, { get: () => io[key], enumerable: true, configurable: true });
  }
  return Object.defineProperties(changed, Object.getOwnPropertyDescriptors(changes)) as CliIO;
}

export function say(io: CliIO, message: string): void {
  io.stderr.write(`${message}\n`);
}

export function formatInstant(ms: number | null | undefined, now = Date.now()): string {
  if (ms === null) return 'never expires';
  if (ms === undefined) return '-';
  const delta = ms - now;
  const when = new Date(ms).toISOString().replace('.000Z', 'Z');
  return `${when} (${delta >= 0 ? `in ${humanDuration(delta)}` : `${humanDuration(-delta)} ago`})`;
}

export function humanDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 90) return `${s}s`;
  const m = Math.round(s / 60);
  if (m < 90) return `${m}m`;
  const h = Math.round(m / 60);
  if (h < 48) return `${h}h`;
  return `${Math.round(h / 24)}d`;
}

export function describeConnection(
  info: Pick<ConnectionInfo, 'provider' | 'environment' | 'baseUrl'>,
): string {
  return `${info.provider}${info.environment ? ` (${info.environment})` : ` (${info.baseUrl})`}`;
}

/**
 * A credential header as people write it: `Authorization` capitalised as in the HTTP
 * specification; any other header (an API key's) as its provider names it.
 */
export function headerLine(header: { name: string; value: string }): {
  name: string;
  value: string;
  line: string;
} {
  const name = header.name.toLowerCase() === 'authorization' ? 'Authorization' : header.name;
  return { name, value: header.value, line: `${name}: ${header.value}` };
}
