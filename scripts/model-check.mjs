#!/usr/bin/env node
/**
 * `npm run model`: checks model/refresh.pml with spin, one run per property and one per broken
 * variant. A property must hold over the whole state space; a broken variant must be caught
 * (a counterexample trail that violates the property it names). Anything else exits 1.
 *
 *   node scripts/model-check.mjs                 every check
 *   node scripts/model-check.mjs --only no-fence checks whose id contains "no-fence"
 *   node scripts/model-check.mjs --list          the checks, without running them
 *
 * Work files and trails go to .cache/model/<check>/ (a readable trail: trail.txt).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const modelFile = join(root, 'model', 'refresh.pml');
const workRoot = join(root, '.cache', 'model');

/** Memory pan may use, in MB: the largest check (liveness) needs about 1.2 GB. */
const MEMORY_LIMIT_MB = 2048;
/** Deep enough for every run of the model (the deepest is under 400 steps). */
const DEPTH_LIMIT = 20_000;

const safety = (property) => ({ defines: [property], mode: 'safety' });

/** Each check: what it compiles in, and what must come out. */
const CHECKS = [
  {
    id: 'one-writer',
    title: 'never two writers in one lease period',
    ...safety('PROP_ONE_WRITER'),
    expect: 'holds',
  },
  {
    id: 'no-lost-token',
    title: 'a rotated refresh token is never lost unreported',
    ...safety('PROP_NO_LOST_TOKEN'),
    expect: 'holds',
  },
  {
    id: 'not-undone',
    title: 'neither a logout nor a newer login is undone',
    ...safety('PROP_NOT_UNDONE'),
    expect: 'holds',
  },
  {
    id: 'no-invalid-grant',
    title: 'without a crash or a lost lease, no invalid_grant',
    ...safety('PROP_NO_INVALID_GRANT'),
    expect: 'holds',
  },
  {
    id: 'no-wait-forever',
    title: 'no process waits forever (weak fairness)',
    defines: [],
    mode: 'liveness',
    claim: 'no_wait_forever',
    expect: 'holds',
  },
  {
    id: 'variant-no-fence',
    title: 'broken: writes not fenced',
    defines: ['NO_FENCE', 'PROP_ONE_WRITER'],
    mode: 'safety',
    expect: 'caught',
    violation: /period_writer/,
  },
  {
    id: 'variant-no-reread',
    title: 'broken: no re-read after taking the lock',
    defines: ['NO_REREAD', 'PROP_NO_INVALID_GRANT'],
    mode: 'safety',
    expect: 'caught',
    violation: /crashes\+pauses/,
  },
  {
    id: 'variant-no-generation-check',
    title: 'broken: no generation check',
    defines: ['NO_GEN_CHECK', 'PROP_NOT_UNDONE'],
    mode: 'safety',
    expect: 'caught',
    violation: /user_generation/,
  },
  {
    id: 'variant-no-renewal',
    title: 'broken: a lease that is not renewed',
    defines: ['NO_RENEW', 'PROP_NO_INVALID_GRANT'],
    mode: 'safety',
    expect: 'caught',
    violation: /crashes\+pauses/,
  },
  {
    id: 'variant-no-delete-fence',
    title: 'broken: deletes not fenced (as before this check)',
    defines: ['NO_DELETE_FENCE', 'PROP_ONE_WRITER'],
    mode: 'safety',
    expect: 'caught',
    violation: /period_writer/,
  },
  {
    id: 'variant-no-expiry',
    title: 'broken: a lock left behind never runs out',
    defines: ['NO_EXPIRY'],
    mode: 'liveness',
    claim: 'no_wait_forever',
    expect: 'caught',
    violation: /acceptance cycle|invalid end state/,
  },
];

function main() {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    console.log('usage: node scripts/model-check.mjs [--only <text>] [--list]');
    return 0;
  }
  const onlyAt = args.indexOf('--only');
  const only = onlyAt >= 0 ? args[onlyAt + 1] : undefined;
  if (onlyAt >= 0 && !only) return usageError('--only needs a part of a check id, e.g. --only variant');
  const unknown = args.filter((arg, i) => !['--only', '--list'].includes(arg) && i !== onlyAt + 1);
  if (unknown.length > 0) return usageError(`unknown argument ${unknown[0]}`);
  const checks = CHECKS.filter((check) => !only || check.id.includes(only));
  if (checks.length === 0) {
    return usageError(
      `no check id contains "${only}"; the checks are: ${CHECKS.map((c) => c.id).join(', ')}`,
    );
  }
  if (args.includes('--list')) {
    for (const check of checks)
      console.log(`${check.id.padEnd(30)} ${check.expect.padEnd(7)} ${check.title}`);
    return 0;
  }
  const missing = missingTools();
  if (missing) {
    console.error(missing);
    return 2;
  }

  console.log(`Model checking ${relative(root, modelFile)} (${plural(checks.length, 'check')})\n`);
  let unexpected = 0;
  const started = Date.now();
  for (const check of checks) {
    const outcome = run(check);
    const ok = outcome.verdict === check.expect;
    if (!ok) unexpected++;
    const states = outcome.states === undefined ? '?' : outcome.states.toLocaleString('en-US');
    console.log(
      `${ok ? 'ok  ' : 'FAIL'} ${check.title.padEnd(52)} ${outcome.verdict.padEnd(7)} ` +
        `${states.padStart(12)} states  ${(outcome.ms / 1000).toFixed(1).padStart(6)} s`,
    );
    if (outcome.note) console.log(`     ${outcome.note}`);
    if (!ok)
      console.log(
        `     expected: ${check.expect}; pan's output is in ${relative(root, outcome.dir)}/pan.out`,
      );
  }
  const total = ((Date.now() - started) / 1000).toFixed(0);
  console.log(
    unexpected === 0
      ? `\nAll ${plural(checks.length, 'check')} as expected (${total} s).`
      : `\n${unexpected} of ${plural(checks.length, 'check')} not as expected (${total} s).`,
  );
  return unexpected === 0 ? 0 : 1;
}

function plural(count, noun) {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function usageError(message) {
  console.error(`model-check: ${message}`);
  return 2;
}

/** Says what to install when spin or a C compiler is missing. */
function missingTools() {
  const problems = [];
  if (spawnSync('spin', ['-V'], { encoding: 'utf8' }).error) {
    problems.push(
      'spin (the model checker) is not installed. On Debian or Ubuntu: `sudo apt-get install -y spin`; ' +
        'elsewhere see https://spinroot.com/spin/Man/README.html.',
    );
  }
  if (spawnSync('gcc', ['--version'], { encoding: 'utf8' }).error) {
    problems.push(
      'gcc (spin compiles each check to C) is not installed. On Debian or Ubuntu: `sudo apt-get install -y gcc`.',
    );
  }
  return problems.length > 0 ? `npm run model cannot run:\n  ${problems.join('\n  ')}` : undefined;
}

/** Generates, compiles and runs the verifier of one check; classifies what it found. */
function run(check) {
  const dir = join(workRoot, check.id);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  copyFileSync(modelFile, join(dir, 'refresh.pml'));
  const defines = check.defines.map((name) => `-D${name}`);
  const started = Date.now();
  const step = (command, commandArgs) => {
    const result = spawnSync(command, commandArgs, {
      cwd: dir,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    return { status: result.status, output: `${result.stdout ?? ''}${result.stderr ?? ''}` };
  };
  const failed = (what, output) => {
    writeFileSync(join(dir, 'pan.out'), output);
    return { verdict: 'error', ms: Date.now() - started, dir, note: `${what} failed: ${firstLine(output)}` };
  };

  const generated = step('spin', ['-a', ...defines, 'refresh.pml']);
  if (generated.status !== 0) return failed('spin -a', generated.output);
  const cFlags = ['-O2', `-DMEMLIM=${MEMORY_LIMIT_MB}`, '-DCOLLAPSE', '-DNFAIR=3'];
  if (check.mode === 'safety') cFlags.push('-DSAFETY', '-DNOCLAIM');
  const compiled = step('gcc', [...cFlags, '-o', 'pan', 'pan.c']);
  if (compiled.status !== 0) return failed('gcc', compiled.output);
  const panArgs = [`-m${DEPTH_LIMIT}`];
  if (check.mode === 'liveness') panArgs.push('-a', '-f', '-N', check.claim);
  const verified = step(join(dir, 'pan'), panArgs);
  writeFileSync(join(dir, 'pan.out'), verified.output);
  const ms = Date.now() - started;
  const states = Number(/(\d+) states, stored/.exec(verified.output)?.[1]);
  const errors = Number(/errors: (\d+)/.exec(verified.output)?.[1] ?? Number.NaN);
  const truncated =
    /max search depth too small|out of memory|Search not completed/.test(verified.output) && errors === 0;
  const base = { ms, dir, states: Number.isNaN(states) ? undefined : states };
  if (Number.isNaN(errors) || truncated) {
    return { ...base, verdict: 'error', note: `the search did not complete: ${firstLine(verified.output)}` };
  }
  if (errors === 0) return { ...base, verdict: 'holds' };

  const violated = /pan:1: (.*)/.exec(verified.output)?.[1] ?? 'an error';
  const trail = step('spin', ['-t', '-p', '-g', ...defines, 'refresh.pml']);
  writeFileSync(join(dir, 'trail.txt'), trail.output);
  const where = `counterexample: ${relative(root, join(dir, 'trail.txt'))}`;
  if (check.violation && !check.violation.test(violated)) {
    return { ...base, verdict: 'other', note: `${violated}, not the expected property; ${where}` };
  }
  return {
    ...base,
    verdict: check.expect === 'caught' ? 'caught' : 'violated',
    note: `${violated}; ${where}`,
  };
}

function firstLine(text) {
  return (
    text
      .split('\n')
      .find((line) => /error|Error|violated|out of memory|too small/.test(line))
      ?.trim() ??
    text.trim().split('\n')[0] ??
    ''
  );
}

process.exitCode = main();
