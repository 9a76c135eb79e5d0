/** The CLI with every command: the main bundle (bundles.ts). */

import { runCommandLine } from './command-line.js';
import { COMMANDS } from './commands.js';

runCommandLine(COMMANDS);
