import type { ProviderProfile } from '../providers/types.js';
import type { SlotGate } from './auth-fetch.js';
import { ruleApplies, SlidingWindowLimiter } from './rate-limiter.js';

/**
 * One set of client-side limiters per connection (a provider counts per user or
 * key), built from the provider profile's rules on first use. In this process only:
 * processes sharing a connection each keep their own count.
 */
export class RateLimitGates {
  readonly #gates = new Map<string, SlotGate>();

  constructor(private readonly sleep: (ms: number) => Promise<void>) {}

  gateFor(connection: string, profile: ProviderProfile): SlotGate {
    let gate = this.#gates.get(connection);
    if (!gate) {
      gate = this.#createGate(profile);
      this.#gates.set(connection, gate);
    }
    return gate;
  }

  drop(connection: string): void {
    this.#gates.delete(connection);
  }

  #createGate(profile: ProviderProfile): SlotGate {
    const limiters = profile.rateLimits.map((rule) => new SlidingWindowLimiter(rule, Date.now, this.sleep));
    const applying = (method: string, path: string) =>
      limiters.filter((l) => ruleApplies(l.rule, method, path));
    return {
      // No promise when no rule applies: most requests of most providers pay nothing here.
      acquire: (method, path) => {
        const rules = limiters.length === 0 ? limiters : applying(method, path);
        if (rules.length === 0) return undefined;
        return (async () => {
          for (const limiter of rules) await limiter.acquire();
        })();
      },
      backOff: (method, path, ms) => {
        for (const limiter of applying(method, path)) limiter.backOff(ms);
      },
    };
  }
}
