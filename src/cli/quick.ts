/** The CLI with only the quick commands (`token`, `exec`, `env`): the quick bundle (bundles.ts). */
import { runCommandLine } from './command-line.js';
import { QUICK_COMMANDS } from './quick-commands.js';

runCommandLine(QUICK_COMMANDS);
