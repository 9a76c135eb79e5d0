#!/usr/bin/env node
/**
 * The `tokenkeeper` command: turns on the compile cache (compile-cache.ts), then loads the
 * CLI. A file of its own because Node compiles a file before running any of it: the cache
 * only serves files loaded after it is on. The build bundles this file apart and ends it
 * with `require("./main.js")`, the CLI, left outside it: an import() would load the CLI
 * through the ES module loader, which scans a CommonJS file for its exports first.
 */
import { enablePrivateCompileCache } from './compile-cache.js';

enablePrivateCompileCache();
