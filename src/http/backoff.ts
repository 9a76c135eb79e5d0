/**
 * Back-off as data, decided in one pure function. Every schedule of waits in
 * tokenkeeper (after a failed refresh, while polling another process's lock,
 * after a 429 that did not say when to come back) is a BackoffPolicy in
 * options.ts, and its delays come from `backoffDelay` alone.
 */

export interface BackoffPolicy {
  /** The first delay (ms). */
  initialMs: number;
  /** Each further attempt multiplies the delay by this. */
  factor: number;
  /** No delay exceeds this (ms), before jitter. */
  maxMs: number;
  /**
   * `none`: exactly the computed delay, for waits a server told us or that must
   * stay predictable. `full`: uniform in [0, delay], to scatter many clients.
   * `spread`: uniform in [delay/2, 3·delay/2), so pollers do not move in lockstep.
   */
  jitter: 'none' | 'full' | 'spread';
}

/** The delay before retry number `attempt` (0 for the first retry). `random` is in [0, 1). */
export function backoffDelay(policy: BackoffPolicy, attempt: number, random: () => number): number {
  const exponent = Math.max(0, Math.floor(attempt));
  const delay = Math.min(policy.maxMs, policy.initialMs * policy.factor ** exponent);
  switch (policy.jitter) {
    case 'none':
      return delay;
    case 'full':
      return delay * random();
    case 'spread':
      return delay * (0.5 + random());
  }
}

/** The longest delay `backoffDelay` returns under `policy`, whatever the attempt and the draw. */
export function longestDelay(policy: BackoffPolicy): number {
  return policy.jitter === 'spread' ? policy.maxMs * 1.5 : policy.maxMs;
}
