/**
 * The commands, by name, each loaded only when it runs. `help`, `completion` and the
 * "did you mean" for a mistyped command all read this one list. The quick ones are listed in
 * quick-commands.ts, for the bundle that holds only them (bundles.ts).
 */
import type { Options } from './args.js';
import type { CliIO } from './output.js';
import { QUICK_COMMANDS } from './quick-commands.js';

export type CommandModule = {
  run(argv: string[], io: CliIO): Promise<number>;
  /** Its flags, for `completion`. */
  options?: Options;
};

export interface CommandEntry {
  summary: string;
  load: () => Promise<CommandModule>;
  /** Takes a connection name as its first argument (completion offers the saved names). */
  takesConnection?: boolean;
}

export type CommandTable = Record<string, CommandEntry>;

export const COMMANDS: CommandTable = {
  login: { takesConnection: true, summary: 'Log in and save a connection', load: () => import('./login.js') },
  status: {
    takesConnection: true,
    summary: 'Show connections, accounts, expiry and state',
    load: () => import('./status.js'),
  },
  token: QUICK_COMMANDS.token,
  exec: QUICK_COMMANDS.exec,
  env: QUICK_COMMANDS.env,
  request: {
    takesConnection: true,
    summary: 'Call the API with a connection’s credentials',
    load: () => import('./request.js'),
  },
  refresh: {
    takesConnection: true,
    summary: 'Refresh a connection’s tokens now',
    load: () => import('./refresh.js'),
  },
  whoami: {
    takesConnection: true,
    summary: 'Show who owns a connection’s credential',
    load: () => import('./whoami.js'),
  },
  logout: {
    takesConnection: true,
    summary: 'Revoke and forget a connection',
    load: () => import('./logout.js'),
  },
  rekey: {
    summary: 'Seal every connection again under the current encryption key',
    load: () => import('./rekey.js'),
  },
  serve: {
    summary: 'Keep every connection fresh and serve tokens over HTTP (a daemon)',
    load: () => import('./serve.js'),
  },
  completion: {
    summary: 'Print shell completion for bash, zsh or fish',
    load: () => import('./completion.js'),
  },
  demo: { summary: 'Watch tokens refresh and rotate against an emulator', load: () => import('./demo.js') },
  emulate: {
    summary: 'Run a provider emulator (factus, factorial)',
    load: async () => {
      const { runEmulate, EMULATE_OPTIONS } = await import('./emulate.js');
      return { run: (argv) => runEmulate(argv), options: EMULATE_OPTIONS };
    },
  },
  version: { summary: 'Print tokenkeeper’s version', load: () => import('./version.js') },
  // help is answered by command-line.ts itself; listed for the help text, completion and "did you mean".
  help: { summary: 'Show help for tokenkeeper or one command', load: async () => ({ run: async () => 0 }) },
};

export function commandNames(): string[] {
  return Object.keys(COMMANDS);
}
