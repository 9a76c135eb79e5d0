/**
 * `/__emulator/*`: the emulator's own knobs, unauthenticated (the server only listens on
 * loopback). Counters live here now; fault injection (`/__emulator/faults`) belongs here
 * too, setting the FaultInjector the token endpoint and API guard already consult.
 */
import { jsonResponse, type Router } from './router.js';
import type { EmulatorStatsCounter } from './stats.js';

export const CONTROL_PREFIX = '/__emulator';

export function registerControlRoutes(router: Router, stats: EmulatorStatsCounter): void {
  router.add('GET', `${CONTROL_PREFIX}/stats`, () =>
    jsonResponse(200, stats.snapshot(), { 'cache-control': 'no-store' }),
  );
  router.add('POST', `${CONTROL_PREFIX}/reset`, () => {
    stats.reset();
    return { status: 204 };
  });
}
