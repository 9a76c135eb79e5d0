/**
 * A connection's client-side rate limits: one sliding-window limiter per rule of
 * its provider (a provider counts per user or key). In this process only:
 * processes sharing a connection each keep their own count.
 */
import type { Clock } from '../clock.js';
import type { SlotGate } from './auth-fetch.js';
import { type RateLimitRule, ruleApplies, SlidingWindowLimiter } from './rate-limiter.js';

/** The gate for these rules; undefined when there are none, so requests pay nothing. */
export function createRateLimitGate(
  rules: readonly RateLimitRule[],
  clock: Pick<Clock, 'now' | 'sleep'>,
): SlotGate | undefined {
  if (rules.length === 0) return undefined;
  const limiters = rules.map((rule) => new SlidingWindowLimiter(rule, clock));
  const applying = (method: string, path: string) =>
    limiters.filter((limiter) => ruleApplies(limiter.rule, method, path));
  return {
    // No promise when no rule applies to this request.
    acquire: (method, path) => {
      const matching = applying(method, path);
      if (matching.length === 0) return undefined;
      return (async () => {
        for (const limiter of matching) await limiter.acquire();
      })();
    },
    backOff: (method, path, ms) => {
      for (const limiter of applying(method, path)) limiter.backOff(ms);
    },
  };
}
