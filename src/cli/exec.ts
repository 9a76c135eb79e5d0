import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { parseCommandArgs, UsageError } from './args.js';
import { ExitCode } from './exit-codes.js';
import { credentialVariables } from './handover.js';
import { connectionName, withKeeper } from './open-keeper.js';
import { type CliIO, say } from './output.js';

export const usage =
  'tokenkeeper exec [<name>] -- <command> [args…]\nRefreshes the credential first if needed, then runs the command with TOKENKEEPER_ACCESS_TOKEN\n' +
  'and TOKENKEEPER_AUTH_HEADER (the whole header line, e.g. "Authorization: Bearer …") in its environment.\n' +
  'Exits with the command’s exit code.';

export const options = {} as const;

/** Exit code of a command that could not be started, as shells use it. */
const COMMAND_NOT_FOUND = 127;

export async function run(argv: string[], io: CliIO): Promise<number> {
  const separator = argv.indexOf('--');
  const ours = separator === -1 ? argv : argv.slice(0, separator);
  const parsed = parseCommandArgs(ours, options, usage, io);
  if (!parsed) return ExitCode.ok;
  const [program, ...programArgs] = separator === -1 ? [] : argv.slice(separator + 1);
  if (program === undefined) throw new UsageError('Give the command to run after --.', usage);
  const { positionals } = parsed;
  if (positionals.length > 1) {
    throw new UsageError(`Unexpected argument "${positionals[1]}"; the command goes after --.`, usage);
  }
  // The keeper is closed before the command starts: it holds no store handle while the command runs.
  const variables = await withKeeper(io, async (keeper) =>
    credentialVariables(keeper, await connectionName(keeper, io, positionals[0], usage)),
  );
  return runProgram(program, programArgs, { ...io.env, ...variables }, io);
}

/**
 * Signals a supervisor sends to tokenkeeper alone (docker stop, systemd, a plain `kill`) are
 * passed on, so the command is not left running without its parent; tokenkeeper then exits
 * with the command's status. Ctrl-C is not: the terminal sends it to the whole process group,
 * the command included, and a second one would count as pressing it twice.
 */
const FORWARDED: NodeJS.Signals[] = ['SIGTERM', 'SIGHUP'];

function runProgram(program: string, args: string[], env: NodeJS.ProcessEnv, io: CliIO): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(program, args, { env, stdio: 'inherit' });
    // Ctrl-C reaches the child too (same process group); it decides, and we report its exit.
    const ignore = () => undefined;
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    process.on('SIGINT', ignore);
    for (const signal of FORWARDED) process.on(signal, forward);
    const done = (code: number) => {
      process.off('SIGINT', ignore);
      for (const signal of FORWARDED) process.off(signal, forward);
      resolve(code);
    };
    child.on('error', (error: NodeJS.ErrnoException) => {
      say(
        io,
        `Could not run "${program}": ${error.code === 'ENOENT' ? 'command not found' : (error.code ?? error.message)}.`,
      );
      done(COMMAND_NOT_FOUND);
    });
    child.on('close', (code, signal) => {
      // A command ended by a signal exits 128 + its number, as shells report it.
      done(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0));
    });
  });
}
