/**
 * Drives one or more peer-child processes through a refresh storm against one
 * Factus emulator: load → log in (counted as "start") → wait until the tokens
 * have expired in real time → every caller at once (counted as "at expiry").
 */

import type { EmulatorStats } from '../../src/emulators/core/stats.js';
import type { FactusRunningEmulator } from '../../src/emulators/factus/factus-emulator.js';
import type { PeerChildConfig, StormOutcome } from '../children/peer-child.js';
import { childScript, LineChild } from './child.js';
import { sleep } from './measure.js';

export interface StormRun {
  /** Token endpoint traffic from the first login until every process was ready. */
  start: EmulatorStats;
  /** Token endpoint and API traffic from then until every caller had its answer. */
  expiry: EmulatorStats;
  outcomes: StormOutcome[];
}

export interface StormPlan {
  emulator: FactusRunningEmulator;
  processes: number;
  config: PeerChildConfig;
  /** Lifetime of the emulator's access tokens. */
  ttlSeconds: number;
  /** Token traffic spent before the children started (e.g. a refresh token handed to them all). */
  startStats?: EmulatorStats;
  /** Runs once every process is loaded, just before they log in (e.g. the login they share). */
  beforeLogin?: () => Promise<void>;
  /** Longest wait for the storm itself. */
  stormTimeoutMs: number;
}

export async function runStorm(plan: StormPlan): Promise<StormRun> {
  const children = Array.from(
    { length: plan.processes },
    () => new LineChild(childScript('peer-child'), { args: [JSON.stringify(plan.config)] }),
  );
  try {
    // Loading modules takes longest and varies most: only once every process is loaded do they log in together.
    await Promise.all(children.map((child) => child.expect('loaded', 30_000)));
    plan.emulator.resetStats();
    await plan.beforeLogin?.();
    for (const child of children) child.send('login');
    await Promise.all(children.map((child) => child.expect('ready', 30_000)));
    const start = plan.emulator.stats();
    plan.emulator.resetStats();
    // Every token was issued within the login round trip above, so all have expired after this.
    await sleep(plan.ttlSeconds * 1000 + 300);
    for (const child of children) child.send('go');
    const outcomes = await Promise.all(
      children.map(async (child) => JSON.parse(await child.next(plan.stormTimeoutMs)) as StormOutcome),
    );
    return { start: plus(start, plan.startStats), expiry: plan.emulator.stats(), outcomes };
  } finally {
    await Promise.all(children.map((child) => child.close()));
  }
}

function plus(a: EmulatorStats, b: EmulatorStats | undefined): EmulatorStats {
  if (!b) return a;
  const tokenRequests: EmulatorStats['tokenRequests'] = { ...a.tokenRequests };
  for (const [grant, count] of Object.entries(b.tokenRequests)) {
    tokenRequests[grant] = (tokenRequests[grant] ?? 0) + count;
  }
  return {
    tokenRequests,
    invalidGrant: a.invalidGrant + b.invalidGrant,
    apiRequests: a.apiRequests + b.apiRequests,
    unauthorized: a.unauthorized + b.unauthorized,
    rateLimited: a.rateLimited + b.rateLimited,
    faults: { total: a.faults.total + b.faults.total },
  };
}

const SUCCESS = /^(HTTP 2\d\d|token accepted)$/;

/** Callers whose request did not end in a 2xx, or whose token the API refused. */
export function failedCallers(outcomes: StormOutcome[]): number {
  let failed = 0;
  for (const outcome of outcomes) {
    for (const [end, count] of Object.entries(outcome.outcomes)) {
      if (!SUCCESS.test(end)) failed += count;
    }
  }
  return failed;
}

/** "HTTP 200 × 9,990, threw … × 10" over all processes. */
export function describeOutcomes(outcomes: StormOutcome[]): string {
  const total: Record<string, number> = {};
  for (const outcome of outcomes) {
    for (const [end, count] of Object.entries(outcome.outcomes)) total[end] = (total[end] ?? 0) + count;
  }
  return Object.entries(total)
    .sort((a, b) => b[1] - a[1])
    .map(([end, count]) => `${end} × ${count.toLocaleString('en-US')}`)
    .join(', ');
}

export function tokenRequestSummary(stats: EmulatorStats): string {
  const { total, password = 0, refresh_token: refresh = 0 } = stats.tokenRequests;
  return `${total.toLocaleString('en-US')} (password ${password.toLocaleString('en-US')}, refresh ${refresh.toLocaleString('en-US')})`;
}
