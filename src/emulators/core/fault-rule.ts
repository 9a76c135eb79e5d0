/**
 * A fault rule as `POST /__emulator/faults` (or `emulator.faults.add`) takes it, and the
 * one check both paths share. The check names every problem and what is allowed, because
 * its message is all a script author sees of a typo.
 */
import { FAULT_POINTS, type FaultPoint } from './faults.js';

/** The junk bodies a fault rule can put in an answer: a proxy's HTML page, cut-off JSON, or nothing. */
export const FAULT_BODIES = ['html', 'invalid-json', 'empty'] as const;
/** One of {@link FAULT_BODIES}: what a rule's `body` replaces the answer's body with. */
export type FaultBody = (typeof FAULT_BODIES)[number];

/**
 * How to misbehave at one fault point, for how long: what `POST /__emulator/faults` and
 * `emulator.faults.add` take (docs/fault-injection.md is the contract).
 */
export interface FaultRule {
  point: FaultPoint;
  /** Answer with this status instead of reaching the endpoint. */
  status?: number;
  /** `Retry-After` on the answer: seconds, or an HTTP date sent as given. */
  retryAfter?: number | string;
  /** Wait this long first; on its own the request then goes on as usual. */
  delayMs?: number;
  /** Drop the connection without an answer. */
  reset?: boolean;
  /** Replace the answer's body. */
  body?: FaultBody;
  /** The `expires_in` a successful token answer carries (token point only). */
  expiresIn?: number;
  /** Apply to the next `count` matching requests only. */
  count?: number;
  /** Apply to this share of matching requests, drawn at random. */
  ratio?: number;
  /** Apply for this long after the rule is added. */
  forMs?: number;
}

export type FaultRuleCheck = { ok: true; rule: FaultRule } | { ok: false; message: string };

const FIELDS = [
  'point',
  'status',
  'retryAfter',
  'delayMs',
  'reset',
  'body',
  'expiresIn',
  'count',
  'ratio',
  'forMs',
] as const;

/** Statuses whose answers carry no body (RFC 9110 §6.4.1): 1xx, 204 and 304. */
export function isBodylessStatus(status: number): boolean {
  return status < 200 || status === 204 || status === 304;
}

/** setTimeout's ceiling; a longer delay would fire at once. */
const MAX_DELAY_MS = 2 ** 31 - 1;

const EXAMPLE = '{"point":"token","status":503,"count":3}';

/** `points`: the fault points this emulator serves (a rule for another point could never apply). */
export function checkFaultRule(input: unknown, points: readonly FaultPoint[]): FaultRuleCheck {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    return { ok: false, message: `A fault rule is a JSON object, such as ${EXAMPLE}.` };
  }
  const given = input as Record<string, unknown>;
  const problems: string[] = [];

  const unknown = Object.keys(given).filter((key) => !(FIELDS as readonly string[]).includes(key));
  if (unknown.length > 0) {
    const names = unknown.map((key) => JSON.stringify(key)).join(', ');
    problems.push(`Unknown field ${names}; a rule may have: ${FIELDS.join(', ')}.`);
  }

  problems.push(...checkPoint(given.point, points));
  const number = (name: string, ok: (value: number) => boolean, allowed: string) => {
    const value = given[name];
    if (value !== undefined && !(typeof value === 'number' && ok(value))) {
      problems.push(`${name} must be ${allowed}, got ${JSON.stringify(value)}.`);
    }
  };
  number('status', (v) => Number.isInteger(v) && v >= 100 && v <= 599, 'an HTTP status from 100 to 599');
  number(
    'delayMs',
    (v) => Number.isInteger(v) && v >= 0 && v <= MAX_DELAY_MS,
    `an integer from 0 to ${MAX_DELAY_MS}`,
  );
  number('expiresIn', (v) => Number.isSafeInteger(v) && v >= 0, 'a whole number of seconds, 0 or more');
  number('count', (v) => Number.isSafeInteger(v) && v >= 1, 'a whole number, 1 or more');
  number('ratio', (v) => v > 0 && v <= 1, 'a number greater than 0 and at most 1');
  number('forMs', (v) => Number.isFinite(v) && v > 0, 'a number of milliseconds greater than 0');
  if (given.reset !== undefined && typeof given.reset !== 'boolean') {
    problems.push(`reset must be true or false, got ${JSON.stringify(given.reset)}.`);
  }
  if (given.body !== undefined && !(FAULT_BODIES as readonly unknown[]).includes(given.body)) {
    problems.push(`body must be one of ${FAULT_BODIES.join(', ')}, got ${JSON.stringify(given.body)}.`);
  }
  if (given.retryAfter !== undefined && !isRetryAfter(given.retryAfter)) {
    problems.push(
      `retryAfter must be a whole number of seconds (0 or more) or an HTTP date such as ` +
        `"Wed, 21 Oct 2026 07:28:00 GMT", got ${JSON.stringify(given.retryAfter)}.`,
    );
  }
  if (problems.length === 0) problems.push(...checkCombination(given as unknown as FaultRule));

  if (problems.length > 0) return { ok: false, message: problems.join(' ') };
  return { ok: true, rule: pickFields(given as unknown as FaultRule) };
}

function checkPoint(point: unknown, points: readonly FaultPoint[]): string[] {
  if (point === undefined) return [`point is required: one of ${points.join(', ')}.`];
  if (!(FAULT_POINTS as readonly unknown[]).includes(point)) {
    return [`point must be one of ${points.join(', ')}, got ${JSON.stringify(point)}.`];
  }
  if (!points.includes(point as FaultPoint)) {
    return [
      `point ${JSON.stringify(point)} does not exist on this emulator (it has no ${String(point)} endpoint); ` +
        `its points are ${points.join(', ')}.`,
    ];
  }
  return [];
}

function isRetryAfter(value: unknown): boolean {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0;
  return typeof value === 'string' && value.trim() !== '' && !Number.isNaN(Date.parse(value));
}

/** Effects that cannot happen together, and a rule that would do nothing. */
function checkCombination(rule: FaultRule): string[] {
  const problems: string[] = [];
  if (rule.reset === true) {
    const conflicting = (['status', 'body', 'retryAfter', 'expiresIn'] as const).filter(
      (name) => rule[name] !== undefined,
    );
    if (conflicting.length > 0) {
      problems.push(
        `reset drops the connection without an answer, so it cannot go with ${conflicting.join(', ')}.`,
      );
    }
  }
  if (rule.body !== undefined && rule.status !== undefined && isBodylessStatus(rule.status)) {
    problems.push(
      `A ${rule.status} answer has no body (HTTP forbids one), so body cannot go with status ${rule.status}: ` +
        'drop body, or pick a status that has one, such as 200 or 502.',
    );
  }
  if (rule.expiresIn !== undefined && rule.point !== 'token') {
    problems.push(`expiresIn changes token answers only: use it with point "token", not "${rule.point}".`);
  }
  if (rule.expiresIn !== undefined && rule.status !== undefined) {
    problems.push('expiresIn edits the token endpoint’s own answer, which status replaces: use one of them.');
  }
  const effects = [rule.status, rule.delayMs, rule.body, rule.expiresIn, rule.retryAfter];
  if (rule.reset !== true && effects.every((effect) => effect === undefined)) {
    problems.push(
      'The rule does nothing: give it at least one of status, delayMs, reset: true, body, expiresIn, retryAfter.',
    );
  }
  return problems;
}

/** A copy with only the known fields, in a fixed order (how the rule is listed back). */
function pickFields(given: FaultRule): FaultRule {
  const rule: Record<string, unknown> = {};
  for (const name of FIELDS) if (given[name] !== undefined) rule[name] = given[name];
  return rule as unknown as FaultRule;
}
