#!/usr/bin/env node
/**
 * Bundles the CLI (dist/src/cli/main.js, compiled by tsc) into dist/cli/: one entry
 * file plus a chunk per lazily loaded part. Loading a few files instead of some forty
 * ES modules is most of what keeps `tokenkeeper token` close to bare Node's start-up.
 * esbuild-wasm: the same bundler without a platform-specific binary.
 * Native and optional drivers, and CommonJS packages loaded lazily (prom-client), stay
 * external, resolved from node_modules at run time.
 */
import { rmSync } from 'node:fs';
import { build } from 'esbuild-wasm';

const root = new URL('..', import.meta.url).pathname;
rmSync(`${root}dist/cli`, { recursive: true, force: true });
await build({
  entryPoints: [`${root}dist/src/cli/main.js`],
  outdir: `${root}dist/cli`,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.19',
  sourcemap: true,
  external: [
    'better-sqlite3',
    'better-sqlite3-napi',
    'pg',
    'ioredis',
    'rate-limiter-flexible',
    'open',
    'prom-client',
  ],
  logLevel: 'warning',
});
