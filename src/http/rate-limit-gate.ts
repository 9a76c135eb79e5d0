/**
 * A connection's client-side rate limits: one limiter per rule of its provider (a
 * provider counts per user or key). With a store that shares budgets (PostgreSQL, Redis,
 * SQLite), every process using the connection counts together; otherwise (memory) this
 * process counts alone, in a sliding window.
 */
import type { Clock } from '../clock.js';
import type { SharedRateLimits } from '../store/types.js';
import type { SlotGate } from './auth-fetch.js';
import { type RateLimitRule, ruleApplies, SlidingWindowLimiter } from './rate-limiter.js';
import { SharedWindowLimiter } from './shared-rate-limiter.js';

/** Budgets in the store, and the name they are counted under (the connection's). */
export interface SharedBudgets {
  limits: SharedRateLimits;
  scope: string;
}

interface Limiter {
  readonly rule: RateLimitRule;
  /** Resolves with the ms waited for a slot. */
  acquire(): Promise<number>;
  backOff(retryAfterMs: number): void;
}

/** The gate for these rules; undefined when there are none, so requests pay nothing. */
export function createRateLimitGate(
  rules: readonly RateLimitRule[],
  clock: Pick<Clock, 'now' | 'sleep'>,
  shared?: SharedBudgets,
): SlotGate | undefined {
  if (rules.length === 0) return undefined;
  const limiters: Limiter[] = rules.map((rule, index) =>
    shared
      ? new SharedWindowLimiter(rule, `${shared.scope}#${index}`, shared.limits, clock)
      : new SlidingWindowLimiter(rule, clock),
  );
  const applying = (method: string, path: string) =>
    limiters.filter((limiter) => ruleApplies(limiter.rule, method, path));
  return {
    // No promise when no rule applies to this request.
    acquire: (method, path) => {
      const matching = applying(method, path);
      if (matching.length === 0) return undefined;
      return (async () => {
        let waited = 0;
        for (const limiter of matching) waited += await limiter.acquire();
        return waited;
      })();
    },
    backOff: (method, path, ms) => {
      for (const limiter of applying(method, path)) limiter.backOff(ms);
    },
  };
}
