#!/usr/bin/env node
// Runs the compiled test files (dist/test/**/*.test.js) with node's own test runner.
// Optional arguments filter by path fragment: `node scripts/run-tests.mjs store e2e/cli`.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const testRoot = join(root, 'dist', 'test');

function collect(dir) {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return collect(path);
    return entry.endsWith('.test.js') ? [path] : [];
  });
}

const filters = process.argv.slice(2);
const files = collect(testRoot)
  .filter((file) => filters.length === 0 || filters.some((f) => relative(root, file).includes(f)))
  .sort();

if (files.length === 0) {
  console.error(
    `No compiled test files matched ${filters.join(', ') || '(all)'}; run \`npm run build\` first.`,
  );
  process.exit(1);
}

// The timeout is per test on Node 24 but per file on Node 20, where it has to cover the
// longest file: a SIGKILL storm of 100 kills takes about 70 s on a quiet machine.
const result = spawnSync(
  process.execPath,
  ['--enable-source-maps', '--test', '--test-concurrency=2', '--test-timeout=300000', ...files],
  { stdio: 'inherit', cwd: root },
);
process.exit(result.status ?? 1);
