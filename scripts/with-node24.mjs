#!/usr/bin/env node
/**
 * Runs a command under Node 24 LTS: `node scripts/with-node24.mjs node scripts/run-tests.mjs`.
 *
 * Node 24 comes from the npm registry (the `node` package) into .cache/node24. Nothing else
 * changes: on Node 22+ the SQLite store loads better-sqlite3 13 (Node-API, prebuilt, see
 * src/store/sqlite-driver.ts), so the system Node's native build stays as it is.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';

const NODE_VERSION = process.env.TOKENKEEPER_NODE24_VERSION ?? '24';
const root = new URL('..', import.meta.url).pathname;
const node24Dir = join(root, '.cache', 'node24');
const node24 = join(node24Dir, 'node_modules', 'node', 'bin', 'node');

function log(message) {
  process.stderr.write(`[with-node24] ${message}\n`);
}

const command = process.argv.slice(2);
if (command.length === 0) {
  log('usage: node scripts/with-node24.mjs <command> [args...]');
  process.exit(2);
}

if (!existsSync(node24)) {
  log(`installing node@${NODE_VERSION} from the npm registry into .cache/node24`);
  mkdirSync(node24Dir, { recursive: true });
  execFileSync(
    'npm',
    ['install', '--prefix', node24Dir, '--no-save', '--no-audit', '--no-fund', `node@${NODE_VERSION}`],
    { stdio: 'inherit' },
  );
}
log(`running under Node ${execFileSync(node24, ['--version'], { encoding: 'utf8' }).trim()}`);
const [program, ...args] = command;
const result = spawnSync(program === 'node' ? node24 : program, args, {
  stdio: 'inherit',
  cwd: root,
  env: { ...process.env, PATH: `${dirname(node24)}:${process.env.PATH}` },
});
process.exit(result.status ?? 1);
