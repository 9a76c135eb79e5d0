/**
 * The CLI is built as two bundles (scripts/bundle-cli.mjs): quick.js holds only the commands
 * scripts run most, which hand a credential over (`token`, `exec`, `env`), and main.js holds
 * every command. A command's start-up reads, compiles or loads from cache the whole of its
 * bundle, and the quick one is half the size: bench cli-token. Each bundle keeps compiled code
 * of its own (compile-cache.ts), so a `login` or `demo` never decides what `token` loads.
 */
import { takeStoreOption } from './store-option.js';

export const QUICK_COMMAND_NAMES = ['token', 'exec', 'env'] as const;
export type QuickCommandName = (typeof QUICK_COMMAND_NAMES)[number];

/** The bundle, beside the `tokenkeeper` command, that runs this command line. */
export function bundleFor(argv: readonly string[]): 'quick.js' | 'main.js' {
  const command = commandOf(argv);
  return (QUICK_COMMAND_NAMES as readonly string[]).includes(command ?? '') ? 'quick.js' : 'main.js';
}

/** The command named on a tokenkeeper command line, past a global --store; undefined for none. */
export function commandOf(argv: readonly string[]): string | undefined {
  const first = takeStoreOption(argv, {})?.argv[0];
  return first === undefined || first.startsWith('-') ? undefined : first;
}
