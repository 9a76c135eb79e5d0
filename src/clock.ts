/**
 * Token time as a seam. Everything that asks "is this token still fresh" or "wake
 * me before it expires" goes through a Clock, so tests drive expiry by advancing a
 * FakeClock instead of sleeping. Waits that pace real network traffic (Retry-After,
 * client-side rate limits, polling another process's lock) stay on real time: the
 * server and the other processes do not follow our clock.
 */

export interface TimerHandle {
  cancel(): void;
}

/** Token time as a seam: `now`, timers and sleeps. Pass a FakeClock in tests to move time by hand. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `callback` after `delayMs`; the timer never keeps the process alive. */
  setTimer(callback: () => void, delayMs: number): TimerHandle;
  /** Resolves after `delayMs` (used for back-off and lock polling). */
  sleep(delayMs: number): Promise<void>;
}

// setTimeout overflows above 2^31-1 ms (about 24.8 days) and then fires at once.
const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/** The real clock. Its timers are unref'd, so they never keep a process alive. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(callback, delayMs) {
    let handle: NodeJS.Timeout;
    const due = Date.now() + Math.max(0, delayMs);
    const arm = () => {
      const remaining = due - Date.now();
      if (remaining > MAX_TIMER_DELAY_MS) {
        handle = setTimeout(arm, MAX_TIMER_DELAY_MS);
      } else {
        handle = setTimeout(callback, Math.max(0, remaining));
      }
      handle.unref();
    };
    arm();
    return { cancel: () => clearTimeout(handle) };
  },
  sleep: (delayMs) => new Promise((resolve) => setTimeout(resolve, Math.max(0, delayMs))),
};

interface PendingTimer {
  due: number;
  callback: () => void;
  cancelled: boolean;
}

/** A clock that only moves when told to. Timers fire in due order during advance(). */
export class FakeClock implements Clock {
  #now: number;
  #timers: PendingTimer[] = [];

  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  setTimer(callback: () => void, delayMs: number): TimerHandle {
    const timer: PendingTimer = { due: this.#now + Math.max(0, delayMs), callback, cancelled: false };
    this.#timers.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }

  sleep(delayMs: number): Promise<void> {
    return new Promise((resolve) => this.setTimer(resolve, delayMs));
  }

  /** Timers still waiting to fire. */
  get pendingTimers(): number {
    return this.#timers.filter((t) => !t.cancelled).length;
  }

  /** Moves time forward, firing each due timer at its own instant. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    for (;;) {
      // Let work already under way register its timers before we look for due ones.
      await new Promise<void>((resolve) => setImmediate(resolve));
      const next = this.#timers
        .filter((t) => !t.cancelled && t.due <= target)
        .sort((a, b) => a.due - b.due)[0];
      if (!next) break;
      this.#now = Math.max(this.#now, next.due);
      next.cancelled = true;
      this.#timers = this.#timers.filter((t) => !t.cancelled);
      next.callback();
    }
    this.#now = target;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
