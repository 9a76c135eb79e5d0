#!/usr/bin/env node
/**
 * The `tokenkeeper` command: runs the CLI bundle beside it that has the command (bundles.ts:
 * dist/cli/quick.js or dist/cli/main.js) with its compiled code kept between runs
 * (compile-cache.ts). A file of its own because Node compiles a file before running any of
 * it: the cache only serves files loaded after it is on. The build
 * bundles this file apart into dist/cli/tokenkeeper.js, where import.meta.url is that file's URL;
 * the CLI is loaded as CommonJS: an import() would load it through the ES module loader, which
 * scans a CommonJS file for its exports first.
 */
import { fileURLToPath } from 'node:url';
import { bundleFor } from './bundles.js';
import { runCli } from './compile-cache.js';

runCli(fileURLToPath(new URL(bundleFor(process.argv.slice(2)), import.meta.url)));
