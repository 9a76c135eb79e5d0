/**
 * Turns whatever a command threw into a message for a person and an exit code.
 * Only the error's own words are printed, or ours: never Node's or a library's
 * ("fetch failed", "EACCES: …"), and never a stack unless TOKENKEEPER_DEBUG asks.
 */
import { isTokenkeeperError, StoreError } from '../errors.js';
import { CancelledError } from './args.js';
import { ExitCode, exitCodeFor } from './exit-codes.js';
import type { CliIO } from './output.js';

/** File-system failures that mean "this place cannot be used", whoever tried it. */
const UNUSABLE_PATH = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'EISDIR', 'ENOENT', 'ENOSPC']);

export async function reportError(error: unknown, io: CliIO): Promise<number> {
  if (error instanceof CancelledError) {
    io.stderr.write('Cancelled.\n');
    return ExitCode.interrupted;
  }
  if (isTokenkeeperError(error)) {
    if (error.code === 'NOT_FOUND' && error.connection) {
      io.stderr.write(`${await notFoundMessage(error.connection, io)}\n`);
      return ExitCode.failure;
    }
    if ((error.code === 'STORE_KEY' || error.code === 'STORE_TAMPERED') && error.connection) {
      io.stderr.write(`${await unopenableMessage(error.message, error.connection, io)}\n`);
      return exitCodeFor(error.code);
    }
    const unusable = fileSystemCode(error.cause);
    if (error.code === 'STORE' && unusable) {
      io.stderr.write(`${storeUnusable(io, unusable)}\n`);
      return ExitCode.usage;
    }
    io.stderr.write(`${error.message}\n`);
    if (error instanceof StoreError && error.kind) {
      return error.kind === 'unreachable' ? ExitCode.unreachable : ExitCode.usage;
    }
    return exitCodeFor(error.code, error.status);
  }
  const unusable = fileSystemCode(error);
  if (unusable) {
    io.stderr.write(`${storeUnusable(io, unusable)}\n`);
    return ExitCode.usage;
  }
  const unreachable = networkFailure(error);
  if (unreachable) {
    io.stderr.write(
      `Could not reach the provider (${unreachable}). Check the connection’s base URL and your network.\n`,
    );
    return ExitCode.unreachable;
  }
  io.stderr.write(`Unexpected error: ${error instanceof Error ? error.message : String(error)}\n`);
  if (io.env.TOKENKEEPER_DEBUG && error instanceof Error) {
    io.stderr.write(`${error.stack}\n`);
    // The CLI runs as one minified file; Node maps it to the sources only when started so.
    if (!process.sourceMapsEnabled) {
      io.stderr.write(
        'For file names and lines in the sources, also set NODE_OPTIONS=--enable-source-maps.\n',
      );
    }
  } else io.stderr.write('Set TOKENKEEPER_DEBUG=1 to see where it happened.\n');
  return ExitCode.failure;
}

function fileSystemCode(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && UNUSABLE_PATH.has(code) ? code : undefined;
}

/** Node's fetch reports an unreachable host as TypeError("fetch failed") with the reason in `cause`. */
function networkFailure(error: unknown): string | undefined {
  if (!(error instanceof TypeError) || error.message !== 'fetch failed') return undefined;
  const code = (error.cause as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : 'connection failed';
}

function storeUnusable(io: CliIO, code: string): string {
  const where = io.env.TOKENKEEPER_STORE ? `"${io.env.TOKENKEEPER_STORE}"` : 'in the data directory';
  const why: Record<string, string> = {
    EACCES: 'permission denied',
    EPERM: 'permission denied',
    EROFS: 'the file system is read-only',
    ENOTDIR: 'part of its path is a file, not a directory',
    EISDIR: 'it is a directory',
    ENOENT: 'its directory cannot be created',
    ENOSPC: 'the disk is full',
  };
  return (
    `Cannot use the store ${where}: ${why[code] ?? code}. ` +
    'Choose a writable place with --store PATH or TOKENKEEPER_STORE, or fix its permissions.'
  );
}

/** No such connection: say which names are close, and how to create it under this one. */
async function notFoundMessage(name: string, io: CliIO): Promise<string> {
  const [{ withKeeper }, { similar }, { newLoginCommands }] = await Promise.all([
    import('./open-keeper.js'),
    import('./args.js'),
    import('./hints.js'),
  ]);
  const names = await withKeeper(io, async (keeper) => (await keeper.list()).map((c) => c.name)).catch(
    () => [] as string[],
  );
  const close = similar(name, names).slice(0, 3);
  return [
    `There is no connection named "${name}".${close.length > 0 ? ` Did you mean ${close.map((c) => `"${c}"`).join(' or ')}?` : ''}`,
    names.length > 0 ? `Connections: ${names.join(', ')}.` : 'There are no connections yet.',
    `To create it, run one of:\n${newLoginCommands(name).join('\n')}`,
  ].join('\n');
}

/** A connection whose secrets cannot be opened: the login its message names is the one that replaces it. */
async function unopenableMessage(message: string, name: string, io: CliIO): Promise<string> {
  const [{ withKeeper }, { withReplacingLoginOf }] = await Promise.all([
    import('./open-keeper.js'),
    import('./hints.js'),
  ]);
  return withKeeper(io, (keeper) => withReplacingLoginOf(keeper, name, message)).catch(() => message);
}
