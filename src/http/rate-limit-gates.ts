import type { ProviderProfile } from '../providers/types.js';
import type { SlotGate } from './auth-fetch.js';
import { ruleApplies, SlidingWindowLimiter } from './rate-limiter.js';

/**
 * One set of client-side limiters per connection (a provider counts per user or
 * key), built from the provider profile's rules on first use. In this process only:
 * processes sharing a connection each keep their own count.
 */
export class RateLimitGates {
  readonly #limiters = new Map<string, SlidingWindowLimiter[]>();

  constructor(private readonly sleep: (ms: number) => Promise<void>) {}

  gateFor(connection: string, profile: ProviderProfile): SlotGate {
    let limiters = this.#limiters.get(connection);
    if (!limiters) {
      limiters = profile.rateLimits.map((rule) => new SlidingWindowLimiter(rule, Date.now, this.sleep));
      this.#limiters.set(connection, limiters);
    }
    const applying = (method: string, path: string) =>
      limiters.filter((l) => ruleApplies(l.rule, method, path));
    return {
      acquire: async (method, path) => {
        for (const limiter of applying(method, path)) await limiter.acquire();
      },
      backOff: (method, path, ms) => {
        for (const limiter of applying(method, path)) limiter.backOff(ms);
      },
    };
  }

  drop(connection: string): void {
    this.#limiters.delete(connection);
  }
}
