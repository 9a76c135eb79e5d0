/**
 * The tokenkeeper command line: finds the command, runs it, and turns what happens to the
 * process (signals, an output nobody reads, an error nobody caught) into exit codes. Each
 * command lives in its own module and is loaded only when it runs, so `tokenkeeper token`
 * starts as fast as Node allows. The bundles' entries (main.ts, quick.ts) hand it their commands.
 */
import module from 'node:module';
import type { CommandModule, CommandTable } from './commands.js';
import { ExitCode } from './exit-codes.js';
import { closeOpenKeepers, stoppingMessage } from './open-keepers.js';
import { type CliIO, processIO, withChanges } from './output.js';
import { takeStoreOption } from './store-option.js';

function help(commands: CommandTable): string {
  const names = Object.keys(commands);
  const width = Math.max(...names.map((c) => c.length));
  return [
    'tokenkeeper: keeps API credentials alive.',
    '',
    'Usage: tokenkeeper [--store LOCATION] <command> [options]',
    '',
    'Commands:',
    ...names.map((name) => `  ${name.padEnd(width)}  ${commands[name]!.summary}`),
    '',
    'Run `tokenkeeper help <command>` (or `tokenkeeper <command> --help`) for a command’s options.',
    'Global option: --store LOCATION, where connections are kept (default: TOKENKEEPER_STORE, else',
    'the SQLite file in your data directory). TOKENKEEPER_KEY: the encryption key;',
    'TOKENKEEPER_PREVIOUS_KEYS: keys that still open connections during a key rotation (see `rekey`).',
    'Where a command’s usage shows [<name>], it may be left out: TOKENKEEPER_CONNECTION, else the only connection',
    '(status without a name shows every connection).',
  ].join('\n');
}

async function main(argv: string[], baseIO: CliIO, commands: CommandTable): Promise<number> {
  const global = takeStoreOption(argv, baseIO.env);
  // `tokenkeeper --store status` took the command for the location: it too lacks a value.
  if (
    !global ||
    (global.argv.length === 0 && global.store !== undefined && Object.hasOwn(commands, global.store))
  ) {
    baseIO.stderr.write(
      '--store needs a value.\nUsage: tokenkeeper [--store LOCATION] <command> [options]\n',
    );
    return ExitCode.usage;
  }
  const io: CliIO =
    global.store === undefined
      ? withChanges(baseIO, { env: global.env })
      : (await import('./store-hints.js')).withStoreInHints(
          withChanges(baseIO, { env: global.env }),
          global.store,
          baseIO.env,
        );
  const [name, ...rest] = global.argv;
  if (name === undefined) {
    io.stderr.write(`${help(commands)}\n`);
    return ExitCode.usage;
  }
  // `help` and `help help` are the top-level help.
  if (
    name === '--help' ||
    name === '-h' ||
    (name === 'help' && [undefined, 'help', '--help', '-h'].includes(rest[0]))
  ) {
    io.stdout.write(`${help(commands)}\n`);
    return ExitCode.ok;
  }
  // `help login` is `login --help`; `--version` and `-v` are `version`.
  const [commandName, commandArgs] =
    name === 'help'
      ? [rest[0]!, ['--help']]
      : name === '--version' || name === '-v'
        ? ['version', rest]
        : [name, rest];
  const command = Object.hasOwn(commands, commandName) ? commands[commandName] : undefined;
  if (!command) {
    const { didYouMean } = await import('./args.js');
    const close = didYouMean(commandName, Object.keys(commands));
    io.stderr.write(
      `Unknown command "${commandName}".${close ? ` Did you mean \`tokenkeeper ${close}\`?` : ''}\n` +
        'Run `tokenkeeper help` to list the commands.\n',
    );
    return ExitCode.usage;
  }
  try {
    const loaded: CommandModule = await command.load();
    return await loaded.run(commandArgs, io);
  } catch (error) {
    // Loaded only now: a command that succeeds never pays for the error wording.
    const { reportError } = await import('./report-error.js');
    return reportError(error, io);
  }
}

/** Runs the command line of this process with `commands`, and sets its exit code. */
export function runCommandLine(commands: CommandTable): void {
  // Node 22.1+ can keep compiled modules between runs; older Node starts as before.
  (module as { enableCompileCache?: () => unknown }).enableCompileCache?.();

  // Ctrl-C or SIGTERM while a command waits (for the browser, the network): stop, as a shell
  // would, but first let a refresh the provider already answered save its tokens (bounded by
  // keeper.close()); a second signal stops at once. A prompt catches SIGINT itself
  // (CancelledError); `exec` leaves Ctrl-C to its command and passes SIGTERM on to it.
  let stopping = false;
  // Every write to stdout and stderr, the signals' messages too, goes through here, so every failed
  // one reaches onWriteError.
  const standardIO = processIO(onWriteError);
  function stop(code: number, message?: string): void {
    if (stopping) process.exit(code);
    stopping = true;
    if (message !== undefined) standardIO.stderr.write(`${message}\n`);
    void closeOpenKeepers().finally(() => process.exit(code));
  }
  function stopOn(signal: NodeJS.Signals, code: number): void {
    process.on(signal, () => {
      if (process.listenerCount(signal) > 1) return;
      // On a new line: the terminal has just echoed ^C.
      stop(code, `\n${stoppingMessage()}`);
    });
  }
  stopOn('SIGINT', ExitCode.interrupted);
  stopOn('SIGTERM', ExitCode.terminated);

  // The reader of the output went away (`tokenkeeper request … | head`): nothing more can be
  // said, so stop writing and end as a program stopped by SIGPIPE does, which Node never is.
  // Any other failure to write the output is a failure of the command, said on stderr if it can
  // be; a message that cannot be shown changes nothing the command did, and its exit code still
  // tells. A stop already under way (a signal's, whose message may be what failed) is left to
  // finish saving what it saves.
  function onWriteError(error: NodeJS.ErrnoException, stream: 'stdout' | 'stderr'): void {
    if (stopping) return;
    if (error.code === 'EPIPE') stop(ExitCode.brokenPipe);
    else if (stream === 'stdout')
      stop(ExitCode.failure, `Could not write the output (${error.code ?? error.message}).`);
  }

  main(process.argv.slice(2), standardIO, commands).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      standardIO.stderr.write(`Unexpected error: ${String(error)}\n`);
      process.exitCode = ExitCode.failure;
    },
  );
}
