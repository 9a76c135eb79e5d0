/**
 * The fault rules of one emulator, and the FaultInjector that applies them. Rules are
 * tried in the order they were added; the first one that is live, targets the request's
 * point and wins its `ratio` draw is applied, alone. A rule spends one of its `count`
 * when it is chosen (before any delay), so concurrent requests never overshoot it.
 * With no rules the injector costs one length check per request.
 */
import { ConfigError } from '../../errors.js';
import { applyFault } from './fault-effects.js';
import { checkFaultRule, type FaultRule } from './fault-rule.js';
import type { FaultInjector, FaultPoint } from './faults.js';
import type { EmulatorRequest, EmulatorResponse } from './router.js';

/** A rule as listed back: the rule itself plus how much of it is left. */
export interface FaultRuleView extends FaultRule {
  id: string;
  /** Requests the rule has been applied to. */
  applied: number;
  /** For a `count` rule: how many more requests it will apply to. */
  remaining?: number;
  /** For a `forMs` rule: milliseconds until it stops applying (0 once over). */
  remainingMs?: number;
  /** False once its count is spent or its time is over; it stays listed until cleared. */
  active: boolean;
}

/** What library users' tests get on a running emulator (`emulator.faults`). */
export interface EmulatorFaults {
  /** Adds a rule and returns its id; throws a ConfigError saying what is wrong with a bad rule. */
  add(rule: FaultRule): string;
  list(): FaultRuleView[];
  /** False when no rule has that id. */
  remove(id: string): boolean;
  clear(): void;
}

export interface FaultRulesOptions {
  /** The points this emulator serves; rules for other points are refused. */
  points: readonly FaultPoint[];
  /** Times `forMs`. The emulator's injected clock, without skew. */
  now: () => number;
  /** Draws for `ratio`: a number in [0, 1). Inject a seeded one for deterministic tests. */
  random: () => number;
  /** Called once per request a rule is applied to (the stats count it). */
  onApplied?: (point: FaultPoint) => void;
}

interface StoredRule {
  id: string;
  rule: FaultRule;
  /** `forMs` rules stop applying at this instant of the base clock. */
  endsAtMs?: number;
  remaining?: number;
  applied: number;
}

export class FaultRules implements FaultInjector, EmulatorFaults {
  readonly points: readonly FaultPoint[];
  readonly #options: FaultRulesOptions;
  #rules: StoredRule[] = [];
  #nextId = 1;

  constructor(options: FaultRulesOptions) {
    this.#options = options;
    this.points = [...options.points];
  }

  /** Checks `input` as the HTTP endpoint does: the rule's id, or what is wrong with it. */
  tryAdd(input: unknown): { ok: true; id: string } | { ok: false; message: string } {
    const checked = checkFaultRule(input, this.points);
    if (!checked.ok) return checked;
    const { rule } = checked;
    const id = `fault-${this.#nextId++}`;
    this.#rules.push({
      id,
      rule,
      endsAtMs: rule.forMs === undefined ? undefined : this.#options.now() + rule.forMs,
      remaining: rule.count,
      applied: 0,
    });
    return { ok: true, id };
  }

  add(rule: FaultRule): string {
    const added = this.tryAdd(rule);
    if (!added.ok) throw new ConfigError(`Fault rule refused: ${added.message}`);
    return added.id;
  }

  list(): FaultRuleView[] {
    const now = this.#options.now();
    return this.#rules.map((stored) => {
      const left: Pick<FaultRuleView, 'remaining' | 'remainingMs'> = {};
      if (stored.remaining !== undefined) left.remaining = stored.remaining;
      if (stored.endsAtMs !== undefined) left.remainingMs = Math.max(0, stored.endsAtMs - now);
      return {
        id: stored.id,
        ...stored.rule,
        applied: stored.applied,
        ...left,
        active: this.#live(stored, now),
      };
    });
  }

  remove(id: string): boolean {
    const before = this.#rules.length;
    this.#rules = this.#rules.filter((stored) => stored.id !== id);
    return this.#rules.length < before;
  }

  clear(): void {
    this.#rules = [];
  }

  around(
    point: FaultPoint,
    _request: EmulatorRequest,
    next: () => Promise<EmulatorResponse>,
  ): Promise<EmulatorResponse> {
    if (this.#rules.length === 0) return next();
    const chosen = this.#choose(point);
    if (!chosen) return next();
    chosen.applied += 1;
    if (chosen.remaining !== undefined) chosen.remaining -= 1;
    this.#options.onApplied?.(point);
    return applyFault(chosen.rule, chosen.id, next);
  }

  #choose(point: FaultPoint): StoredRule | undefined {
    const now = this.#options.now();
    for (const stored of this.#rules) {
      if (stored.rule.point !== point || !this.#live(stored, now)) continue;
      const { ratio } = stored.rule;
      // Only a ratio rule that gets this far draws: one draw per matching request it sees,
      // which a test replaying the same seeded random can predict.
      if (ratio !== undefined && ratio < 1 && !(this.#options.random() < ratio)) continue;
      return stored;
    }
    return undefined;
  }

  #live(stored: StoredRule, now: number): boolean {
    if (stored.remaining !== undefined && stored.remaining <= 0) return false;
    return stored.endsAtMs === undefined || now < stored.endsAtMs;
  }
}
