/**
 * `npm run bench`: every scenario in one run on loopback, then docs/benchmarks.md.
 *
 *   --json          print the report as JSON on stdout (progress stays on stderr)
 *   --smoke         tiny sizes and durations; proves the code works, rewrites nothing
 *   --only <ids>    run only these scenarios (comma-separated or repeated); rewrites nothing
 *
 * Exits 1 when a scenario fails to run. A missed goal is a result, not a failure:
 * it is reported as such in the table.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { describeMachine, packageVersions } from './lib/machine.js';
import { renderMarkdown } from './lib/markdown.js';
import type { BenchReport, ScenarioResult } from './lib/report.js';
import type { BenchContext, Scenario } from './lib/scenario.js';
import { formatMs } from './lib/stats.js';
import { cliToken } from './scenarios/cli-token.js';
import { getAccessToken } from './scenarios/get-access-token.js';
import { hotPath } from './scenarios/hot-path.js';
import { scale } from './scenarios/scale.js';
import { serve10k } from './scenarios/serve-10k.js';
import { serve100k } from './scenarios/serve-100k.js';
import { serveFleet } from './scenarios/serve-fleet.js';
import { serveProxy, serveToken } from './scenarios/serve-http.js';
import { stormOneProcess } from './scenarios/storm-one-process.js';
import { stormProcesses } from './scenarios/storm-processes.js';

const SCENARIOS: Scenario[] = [
  hotPath,
  getAccessToken,
  stormOneProcess,
  stormProcesses,
  cliToken,
  scale,
  serve10k,
  serve100k,
  serveFleet,
  serveProxy,
  serveToken,
];
const DOCS_PATH = fileURLToPath(new URL('../../docs/benchmarks.md', import.meta.url));
/** The whole run is cut off after this long, whatever happens inside. */
const BUDGET_MS = { full: 30 * 60_000, smoke: 4 * 60_000 };

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    smoke: { type: 'boolean', default: false },
    only: { type: 'string', multiple: true },
  },
});
const only = (values.only ?? []).flatMap((value) => value.split(',')).filter(Boolean);
const unknown = only.filter((id) => !SCENARIOS.some((s) => s.id === id));
if (unknown.length > 0) {
  console.error(`Unknown scenario ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.id).join(', ')}.`);
  process.exit(2);
}
const selected = only.length > 0 ? SCENARIOS.filter((s) => only.includes(s.id)) : SCENARIOS;
const smoke = values.smoke ?? false;

const watchdog = setTimeout(
  () => {
    console.error('bench: the run went over its time budget; stopping.');
    process.exit(2);
  },
  smoke ? BUDGET_MS.smoke : BUDGET_MS.full,
);
watchdog.unref();

const log = (message: string) => process.stderr.write(`${message}\n`);
const startedAt = new Date().toISOString();
const loadAtStart = loadavg()[0] ?? Number.NaN;
const begin = performance.now();
const tmpDir = await mkdtemp(join(tmpdir(), 'tokenkeeper-bench-'));
const ctx: BenchContext = { smoke, tmpDir, log };
const results: ScenarioResult[] = [];
let failed = 0;
try {
  for (const scenario of selected) {
    log(`▶ ${scenario.title}${smoke ? ' (smoke)' : ''}`);
    const scenarioBegin = performance.now();
    try {
      const result = await scenario.run(ctx);
      results.push(result);
      for (const goal of result.goals) {
        log(`  ${goal.met ? 'met   ' : 'MISSED'} ${goal.measure}: ${goal.measured} (goal ${goal.goal})`);
      }
      log(`  took ${formatMs(performance.now() - scenarioBegin)}`);
    } catch (error) {
      failed++;
      log(`  FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    }
  }
} finally {
  await rm(tmpDir, { recursive: true, force: true });
}

const report: BenchReport = {
  startedAt,
  durationMs: performance.now() - begin,
  smoke,
  machine: describeMachine(),
  loadAverage: { start: loadAtStart, end: loadavg()[0] ?? Number.NaN },
  versions: packageVersions(),
  scenarios: results,
};

if (values.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
const complete = !smoke && only.length === 0 && failed === 0;
if (complete) {
  await writeFile(DOCS_PATH, renderMarkdown(report));
  log(`Wrote ${DOCS_PATH}.`);
} else if (!values.json) {
  log('docs/benchmarks.md left as it was (smoke, --only, or a failed scenario).');
}
if (!values.json) process.stdout.write(renderMarkdown(report));
clearTimeout(watchdog);
process.exitCode = failed > 0 ? 1 : 0;
