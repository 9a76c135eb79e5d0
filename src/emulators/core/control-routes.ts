/**
 * `/__emulator/*`: the emulator's own knobs, unauthenticated (the server only listens on
 * loopback): counters, fault rules and clock skew. docs/fault-injection.md is the
 * contract; scripts in other projects call these paths, so they do not change lightly.
 * Bodies are read as JSON whatever their Content-Type, so `curl -d '{…}'` just works.
 */
import { parseJsonBody } from './body.js';
import { type EmulatorClock, isValidSkew, MAX_SKEW_MS } from './emulator-clock.js';
import type { FaultRules } from './fault-rules.js';
import { type EmulatorRequest, type EmulatorResponse, jsonResponse, type Router } from './router.js';
import type { EmulatorStatsCounter } from './stats.js';

export const CONTROL_PREFIX = '/__emulator';

export interface ControlRoutesOptions {
  stats: EmulatorStatsCounter;
  faults: FaultRules;
  clock: EmulatorClock;
}

const NO_STORE = { 'cache-control': 'no-store' };

export function registerControlRoutes(router: Router, { stats, faults, clock }: ControlRoutesOptions): void {
  router.add('GET', `${CONTROL_PREFIX}/stats`, () => jsonResponse(200, stats.snapshot(), NO_STORE));
  // Counters only: fault rules and the clock skew stay until cleared on their own routes.
  router.add('POST', `${CONTROL_PREFIX}/reset`, () => {
    stats.reset();
    return { status: 204 };
  });

  router.add('GET', `${CONTROL_PREFIX}/faults`, () => jsonResponse(200, { rules: faults.list() }, NO_STORE));
  router.add('POST', `${CONTROL_PREFIX}/faults`, (request) => {
    const body = readJsonObject(request, 'invalid_fault_rule', '{"point":"token","status":503,"count":3}');
    if (!body.ok) return body.response;
    const added = faults.tryAdd(body.value);
    return added.ok
      ? jsonResponse(201, { id: added.id }, NO_STORE)
      : badRequest('invalid_fault_rule', added.message);
  });
  router.add('DELETE', `${CONTROL_PREFIX}/faults`, (request) => {
    // The router reads `/faults/` as `/faults`; a script whose rule id came out empty must
    // not clear every rule.
    if (request.url.pathname.endsWith('/')) {
      return jsonResponse(404, {
        error: 'unknown_fault_rule',
        message: `No fault rule id after ${CONTROL_PREFIX}/faults/; DELETE ${CONTROL_PREFIX}/faults (no slash) clears every rule.`,
      });
    }
    faults.clear();
    return { status: 204 };
  });
  router.add('DELETE', `${CONTROL_PREFIX}/faults/:id`, (request) => {
    const id = request.params.id as string;
    if (faults.remove(id)) return { status: 204 };
    return jsonResponse(404, {
      error: 'unknown_fault_rule',
      message: `No fault rule has the id ${JSON.stringify(id)}; GET ${CONTROL_PREFIX}/faults lists them.`,
    });
  });

  const clockState = () =>
    jsonResponse(200, { skewMs: clock.skewMs, now: new Date(clock.now()).toISOString() });
  router.add('GET', `${CONTROL_PREFIX}/clock`, clockState);
  router.add('POST', `${CONTROL_PREFIX}/clock`, (request) => {
    const body = readJsonObject(request, 'invalid_clock', '{"skewMs":30000}');
    if (!body.ok) return body.response;
    const { skewMs, ...rest } = body.value;
    const unknown = Object.keys(rest);
    if (unknown.length > 0) {
      return badRequest(
        'invalid_clock',
        `Unknown field ${unknown.map((k) => JSON.stringify(k)).join(', ')}; the only field is skewMs.`,
      );
    }
    if (!isValidSkew(skewMs)) {
      return badRequest(
        'invalid_clock',
        `skewMs must be a whole number of milliseconds from -${MAX_SKEW_MS} to ${MAX_SKEW_MS} (a thousand years; negative: behind, positive: ahead, 0: no skew), got ${skewMs === undefined ? 'nothing' : JSON.stringify(skewMs)}.`,
      );
    }
    clock.setSkew(skewMs);
    return clockState();
  });
}

function badRequest(error: string, message: string): EmulatorResponse {
  return jsonResponse(400, { error, message });
}

type JsonObjectBody =
  | { ok: true; value: Record<string, unknown> }
  | { ok: false; response: EmulatorResponse };

function readJsonObject(request: EmulatorRequest, error: string, example: string): JsonObjectBody {
  const value = parseJsonBody(request);
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    return { ok: true, value: value as Record<string, unknown> };
  }
  const got =
    request.body.length === 0
      ? 'no body'
      : value === undefined
        ? 'a body that is not valid JSON'
        : 'another JSON value';
  return {
    ok: false,
    response: badRequest(error, `The body must be a JSON object such as ${example}; got ${got}.`),
  };
}
