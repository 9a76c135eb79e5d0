/**
 * The commands of the quick bundle (bundles.ts), each loaded only when it runs. commands.ts
 * lists them with every other; this module names no other, so the quick bundle holds none.
 */
import type { QuickCommandName } from './bundles.js';
import type { CommandEntry } from './commands.js';

export const QUICK_COMMANDS: Record<QuickCommandName, CommandEntry> = {
  token: {
    takesConnection: true,
    summary: 'Print a fresh access token (for scripts)',
    load: () => import('./token.js'),
  },
  exec: {
    takesConnection: true,
    summary: 'Run a program with a fresh credential in its environment',
    load: () => import('./exec.js'),
  },
  env: {
    takesConnection: true,
    summary: 'Print a fresh credential as export lines',
    load: () => import('./env.js'),
  },
};
