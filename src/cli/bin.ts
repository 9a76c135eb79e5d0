#!/usr/bin/env node
/**
 * The `tokenkeeper` command: runs the CLI bundle beside it (dist/cli/main.js) with its compiled
 * code kept between runs (compile-cache.ts). A file of its own because Node compiles a file
 * before running any of it: the cache only serves files loaded after it is on. The build
 * bundles this file apart into dist/cli/tokenkeeper.js, where import.meta.url is that file's URL;
 * the CLI is loaded as CommonJS: an import() would load it through the ES module loader, which
 * scans a CommonJS file for its exports first.
 */
import { fileURLToPath } from 'node:url';
import { runCli } from './compile-cache.js';

runCli(fileURLToPath(new URL('main.js', import.meta.url)), process.argv.slice(2));
