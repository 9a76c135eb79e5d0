/**
 * A rate-limit rule counted through the store (SharedRateLimits), so that every process
 * using one connection stays under the provider's limit together. Within this process,
 * callers still queue in arrival order and one of them at a time asks the store.
 */

import type { Clock } from '../clock.js';
import type { SharedRateLimits } from '../store/types.js';
import { countingWindowMs, type RateLimitRule, SlotQueue } from './rate-limiter.js';

export class SharedWindowLimiter {
  readonly #queue: SlotQueue;
  /** A 429 seen by this process holds it back at once, before the store has heard of it. */
  #heldUntil = 0;

  /** `budget` names what is counted: one connection's rule, the same in every process. */
  constructor(
    readonly rule: RateLimitRule,
    private readonly budget: string,
    private readonly limits: SharedRateLimits,
    private readonly clock: Pick<Clock, 'now' | 'sleep'>,
  ) {
    this.#queue = new SlotQueue(clock);
  }

  /**
   * Resolves when a request may be sent, and counts it in the shared budget, with the ms it
   * was held back for its slot (0: one was free; asking the store is not being held back).
   */
  acquire(): Promise<number> {
    return this.#queue.take(() => this.#waitForSlot());
  }

  /** The server said we were over: hold back here at once, and tell the other processes. */
  backOff(retryAfterMs: number): void {
    this.#heldUntil = Math.max(this.#heldUntil, this.clock.now() + retryAfterMs);
    this.limits
      .holdOff(this.budget, this.rule.limit, countingWindowMs(this.rule), retryAfterMs)
      // Best effort: this process holds back anyway, and the others will meet the 429 themselves.
      .catch(() => undefined);
  }

  async #waitForSlot(): Promise<void> {
    const window = countingWindowMs(this.rule);
    for (;;) {
      const held = this.#heldUntil - this.clock.now();
      const wait = held > 0 ? held : await this.limits.take(this.budget, this.rule.limit, window);
      if (wait <= 0) return;
      await this.clock.sleep(wait);
      this.#queue.waitEnded();
    }
  }
}
