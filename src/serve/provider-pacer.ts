/**
 * Spaces the daemon's token requests per provider: at most `perSecond` a second to
 * each, so a daemon that wakes up to a thousand due connections does not send the
 * provider a thousand token requests at once. Real time (the pacing clock): the
 * provider does not follow the token clock.
 */
import type { Clock } from '../clock.js';

export class ProviderPacer {
  readonly #nextSlot = new Map<string, number>();
  readonly #spacingMs: number;

  constructor(
    perSecond: number,
    private readonly clock: Pick<Clock, 'now' | 'sleep'>,
  ) {
    this.#spacingMs = 1000 / perSecond;
  }

  /** Resolves when the next token request to `provider` may go out. */
  async wait(provider: string): Promise<void> {
    const now = this.clock.now();
    const slot = Math.max(now, this.#nextSlot.get(provider) ?? now);
    this.#nextSlot.set(provider, slot + this.#spacingMs);
    if (slot > now) await this.clock.sleep(slot - now);
  }
}
