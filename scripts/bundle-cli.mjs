#!/usr/bin/env node
/**
 * Bundles the CLI (compiled by tsc into dist/src/cli) into CommonJS files: dist/cli/main.js with
 * every command, dist/cli/quick.js with only `token`, `exec` and `env` (src/cli/bundles.ts), and
 * the command that runs one of them (bin.js) into dist/cli/tokenkeeper.js.
 * At start-up each ES module costs Node's ESM loader about a millisecond (resolve, load,
 * link, evaluate, each a turn of the event loop), and `tokenkeeper token`
 * would load ten of them; one CommonJS file is read and compiled in one go, and V8 only
 * pre-parses the functions a command never calls. Lazily imported parts stay lazy: esbuild
 * evaluates each module on its first import().
 * esbuild-wasm: the same bundler without a platform-specific binary.
 * Native and optional drivers, and packages loaded lazily (prom-client, open), stay
 * external, resolved from node_modules at run time; better-sqlite3 12's JavaScript is the
 * exception (src/store/sqlite-driver.ts).
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild-wasm';

const root = new URL('..', import.meta.url).pathname;
rmSync(`${root}dist/cli`, { recursive: true, force: true });
mkdirSync(`${root}dist/cli`, { recursive: true });
// The package is "type": "module"; this folder holds CommonJS.
writeFileSync(`${root}dist/cli/package.json`, '{ "type": "commonjs" }\n');
/** One CommonJS file for Node 20.19+, with less to read and parse at every start. */
const commonJs = {
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20.19',
  // Names are kept, so stack traces stay legible.
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
  // Every import() becomes a require(): on Node 20 the CLI runs from V8's code cache
  // (src/cli/code-cache.ts), and Node 20 loses the import() callback of cached code.
  supported: { 'dynamic-import': false },
};
/** A bundle of the CLI: each is whole, and shares no module state with the other. */
const cliBundle = (entry) => ({
  ...commonJs,
  entryPoints: [`${root}dist/src/cli/${entry}`],
  outfile: `${root}dist/cli/${entry}`,
  sourcemap: true,
  define: {
    // import.meta.url (the SQLite driver's require, the search for package.json) is this file's URL.
    'import.meta.url': '__importMetaUrl',
    // better-sqlite3 12's JavaScript travels in the bundle, for its addon of this version only
    // (src/store/sqlite-driver.ts).
    __TOKENKEEPER_BUNDLED_SQLITE_VERSION__: JSON.stringify(
      JSON.parse(readFileSync(`${root}node_modules/better-sqlite3/package.json`, 'utf8')).version,
    ),
  },
  banner: {
    js: '"use strict";const __importMetaUrl=require("node:url").pathToFileURL(__filename).href;',
  },
  external: [
    // Never called: the bundled better-sqlite3 is always handed its addon's path.
    'bindings',
    'better-sqlite3-napi',
    'pg',
    'ioredis',
    'rate-limiter-flexible',
    'open',
    'prom-client',
  ],
});
for (const entry of ['main.js', 'quick.js']) {
  await build(cliBundle(entry));
  // esbuild escapes every other character in the output; src/cli/code-cache.ts reads it as latin1.
  if (readFileSync(`${root}dist/cli/${entry}`).some((byte) => byte > 0x7f)) {
    throw new Error(`dist/cli/${entry} must be ASCII: src/cli/code-cache.ts reads it as latin1`);
  }
}
// The `tokenkeeper` command (package.json bin): runs main.js or quick.js, files apart, with their
// compiled code cached (src/cli/bin.ts).
await build({
  ...commonJs,
  entryPoints: [`${root}dist/src/cli/bin.js`],
  outfile: `${root}dist/cli/tokenkeeper.js`,
  define: { 'import.meta.url': '__importMetaUrl' },
  banner: {
    js: '"use strict";const __importMetaUrl=require("node:url").pathToFileURL(__filename).href;',
  },
});
