/**
 * Shared request budgets on rate-limiter-flexible, for the PostgreSQL, Redis and SQLite stores:
 * one limiter per budget shape (limit, window), cut into fixed windows that keep the
 * sliding promise (fixed-windows.ts). When the store cannot be reached, each process
 * falls back to counting on its own (rate-limiter-flexible's insurance limiter) rather
 * than failing the API request: the limits are a courtesy to the provider, not a lock.
 */

import { createHash } from 'node:crypto';
import type { RateLimiterAbstract, RateLimiterRes } from 'rate-limiter-flexible';
import { fixedWindowsFor } from './fixed-windows.js';
import type { SharedRateLimits } from './types.js';

export type Flexible = typeof import('rate-limiter-flexible');

/** What this module asks of a limiter: rate-limiter-flexible's own, or a store's wrapper of one. */
export type BudgetLimiter = Pick<RateLimiterAbstract, 'consume' | 'block'>;

/** Builds the store's limiter for `points` per `durationMs`, with `insurance` behind it. */
export type LimiterFactory = (
  flexible: Flexible,
  shape: { points: number; durationMs: number; insuranceLimiter: RateLimiterAbstract },
) => BudgetLimiter;

/** PostgreSQL keeps keys in varchar(255): a long budget name is replaced by its digest. */
function keyOf(budget: string): string {
  return budget.length <= 200 ? budget : `sha256:${createHash('sha256').update(budget).digest('base64url')}`;
}

function isOverLimit(outcome: unknown): outcome is RateLimiterRes {
  return !(outcome instanceof Error) && typeof (outcome as RateLimiterRes)?.msBeforeNext === 'number';
}

export class FlexibleRateLimits implements SharedRateLimits {
  readonly #limiters = new Map<string, Promise<BudgetLimiter>>();

  constructor(private readonly create: LimiterFactory) {}

  async take(budget: string, limit: number, windowMs: number): Promise<number> {
    const limiter = await this.#limiterFor(limit, windowMs);
    try {
      await limiter.consume(keyOf(budget));
      return 0;
    } catch (outcome) {
      if (isOverLimit(outcome)) return Math.max(1, outcome.msBeforeNext);
      throw outcome;
    }
  }

  async holdOff(budget: string, limit: number, windowMs: number, ms: number): Promise<void> {
    const limiter = await this.#limiterFor(limit, windowMs);
    // Whole seconds, at least one: rate-limiter-flexible's Redis block counts in seconds.
    await limiter.block(keyOf(budget), Math.max(1, Math.ceil(ms / 1000)));
  }

  #limiterFor(limit: number, windowMs: number): Promise<BudgetLimiter> {
    const shape = `${limit}/${windowMs}`;
    let limiter = this.#limiters.get(shape);
    if (!limiter) {
      limiter = (async () => {
        // Loaded on first use, like the store drivers: a process that never calls an API skips it.
        const flexible: Flexible = await import('rate-limiter-flexible');
        const { points, durationMs } = fixedWindowsFor(limit, windowMs);
        const insuranceLimiter = new flexible.RateLimiterMemory({ points, duration: durationMs / 1000 });
        return this.create(flexible, { points, durationMs, insuranceLimiter });
      })();
      this.#limiters.set(shape, limiter);
    }
    return limiter;
  }
}
