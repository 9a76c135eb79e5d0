#!/usr/bin/env node
/**
 * The tokenkeeper command. Each command lives in its own module and is loaded
 * only when it runs, so `tokenkeeper token` starts as fast as Node allows.
 */
import module from 'node:module';
import { isTokenkeeperError } from '../errors.js';
import { ExitCode, exitCodeFor } from './exit-codes.js';
import { type CliIO, processIO } from './output.js';

// Node 22.1+ can keep compiled modules between runs; older Node starts as before.
(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();

type CommandModule = { run(argv: string[], io: CliIO): Promise<number> };

const commands: Record<string, { summary: string; load: () => Promise<CommandModule> }> = {
  login: { summary: 'Log in and save a connection', load: () => import('./login.js') },
  status: { summary: 'Show connections, expiry and state', load: () => import('./status.js') },
  token: { summary: 'Print a fresh access token (for scripts)', load: () => import('./token.js') },
  request: { summary: 'Call the API with a connection’s credentials', load: () => import('./request.js') },
  refresh: { summary: 'Refresh a connection’s tokens now', load: () => import('./refresh.js') },
  whoami: { summary: 'Show who owns a connection’s credential', load: () => import('./whoami.js') },
  logout: { summary: 'Revoke and forget a connection', load: () => import('./logout.js') },
  demo: { summary: 'Watch tokens refresh and rotate against an emulator', load: () => import('./demo.js') },
  emulate: {
    summary: 'Run a provider emulator (factus, factorial)',
    load: async () => {
      const { runEmulate } = await import('./emulate.js');
      return { run: (argv) => runEmulate(argv) };
    },
  },
};

function help(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  return [
    'tokenkeeper: keeps API credentials alive.',
    '',
    'Usage: tokenkeeper <command> [options]',
    '',
    'Commands:',
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `tokenkeeper <command> --help` for a command’s options.',
    'Environment: TOKENKEEPER_STORE (where connections are kept), TOKENKEEPER_KEY (encryption key).',
  ].join('\n');
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

export async function main(argv: string[], io: CliIO = processIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(`${help()}\n`);
    return name === undefined ? ExitCode.usage : ExitCode.ok;
  }
  if (name === '--version' || name === '-v') {
    io.stdout.write(`${await packageVersion()}\n`);
    return ExitCode.ok;
  }
  const command = commands[name];
  if (!command) {
    io.stderr.write(`Unknown command "${name}".\n\n${help()}\n`);
    return ExitCode.usage;
  }
  try {
    return await (await command.load()).run(rest, io);
  } catch (error) {
    if (isTokenkeeperError(error)) {
      io.stderr.write(`${error.message}\n`);
      return exitCodeFor(error.code, error.status);
    }
    io.stderr.write(`Unexpected error: ${error instanceof Error ? error.message : String(error)}\n`);
    if (io.env.TOKENKEEPER_DEBUG && error instanceof Error) io.stderr.write(`${error.stack}\n`);
    return ExitCode.failure;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`Unexpected error: ${String(error)}\n`);
    process.exitCode = ExitCode.failure;
  },
);
