/**
 * Client-side rate limiting: a request waits for a free slot instead of being
 * sent only to come back as a 429. A sliding window log per rule: exact, and the
 * windows involved (tens to hundreds of requests a minute) keep the log small.
 */

import { type Clock, systemClock } from '../clock.js';

/** A provider's limit, as data: `limit` requests per `windowMs`, for some methods and paths. */
export interface RateLimitRule {
  /** Shown in messages, e.g. "Factus API". */
  label: string;
  /** Requests allowed per window. */
  limit: number;
  windowMs: number;
  /** Only these methods count (upper case); all methods when absent. */
  methods?: string[];
  /** Only paths matching this pattern count; all paths when absent. */
  pathPattern?: RegExp;
}

const SAFETY_MARGIN_MS = 500;

/**
 * A limiter's callers, served one at a time in arrival order, each told how long it was held
 * back: from its call to its slot, when a wait for a slot (its own, or one ahead of it in the
 * queue) ended after it asked; 0 when every slot it met was free.
 */
export class SlotQueue {
  #tail: Promise<unknown> = Promise.resolve();
  #lastWaitEnded = Number.NEGATIVE_INFINITY;

  constructor(private readonly clock: Pick<Clock, 'now'>) {}

  /** Runs `waitForSlot` in turn; resolves with the ms this caller was held back. */
  take(waitForSlot: () => Promise<void>): Promise<number> {
    const asked = this.clock.now();
    const turn = this.#tail.then(async () => {
      await waitForSlot();
      return this.#lastWaitEnded >= asked ? this.clock.now() - asked : 0;
    });
    this.#tail = turn.catch(() => undefined);
    return turn;
  }

  /** A wait for a slot has just ended. */
  waitEnded(): void {
    this.#lastWaitEnded = this.clock.now();
  }
}

export class SlidingWindowLimiter {
  readonly #sent: number[] = [];
  readonly #queue: SlotQueue;

  /** `clock` paces real traffic: the server counts in real time, so this is not the token clock. */
  constructor(
    readonly rule: RateLimitRule,
    private readonly clock: Pick<Clock, 'now' | 'sleep'> = systemClock,
  ) {
    this.#queue = new SlotQueue(clock);
  }

  /**
   * Resolves when a request may be sent, and counts it, with the ms it was held back for its
   * slot (0: one was free). Callers are served in arrival order.
   */
  acquire(): Promise<number> {
    return this.#queue.take(() => this.#waitForSlot());
  }

  /** Ms until the next slot frees up; 0 when one is free now. */
  delayUntilFree(): number {
    this.#forgetOld();
    if (this.#sent.length < this.rule.limit) return 0;
    return Math.max(1, (this.#sent[0] ?? 0) + this.#horizonMs - this.clock.now());
  }

  /**
   * The window is measured when we send; the server measures when it receives, and
   * its window may have opened a little later than ours. Forgetting a request only
   * after a safety margin keeps the first request of the next window from arriving
   * early.
   */
  get #horizonMs(): number {
    return countingWindowMs(this.rule);
  }

  /** The server said we were over: treat the window as full until `retryAfterMs` passes. */
  backOff(retryAfterMs: number): void {
    const until = this.clock.now() + retryAfterMs - this.#horizonMs;
    this.#sent.length = 0;
    for (let i = 0; i < this.rule.limit; i++) this.#sent.push(until);
  }

  async #waitForSlot(): Promise<void> {
    for (let delay = this.delayUntilFree(); delay > 0; delay = this.delayUntilFree()) {
      await this.clock.sleep(delay);
      this.#queue.waitEnded();
    }
    this.#sent.push(this.clock.now());
  }

  #forgetOld(): void {
    const horizon = this.clock.now() - this.#horizonMs;
    let expired = 0;
    while (expired < this.#sent.length && (this.#sent[expired] ?? 0) <= horizon) expired++;
    if (expired > 0) this.#sent.splice(0, expired);
  }
}

/**
 * The window a client must count over: the rule's, plus a safety margin (at most 500 ms,
 * 1% of the window) for the time between our count and the server's receipt.
 */
export function countingWindowMs(rule: Pick<RateLimitRule, 'windowMs'>): number {
  return rule.windowMs + Math.min(SAFETY_MARGIN_MS, rule.windowMs * 0.01);
}

export function ruleApplies(rule: RateLimitRule, method: string, path: string): boolean {
  if (rule.methods && !rule.methods.includes(method.toUpperCase())) return false;
  if (rule.pathPattern && !rule.pathPattern.test(path)) return false;
  return true;
}
