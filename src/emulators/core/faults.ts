/**
 * The seam for fault injection. Every token request and every API request (and, where a
 * provider has them, every authorize and revoke request) passes through
 * `FaultInjector.around(point, request, next)`; the default passes straight through.
 * The emulators plug in a FaultRules (fault-rules.ts), filled through
 * `/__emulator/faults`, so no endpoint knows about faults beyond this one call.
 */
import type { EmulatorRequest, EmulatorResponse } from './router.js';

/** Every point a rule can target; `authorize` and `revoke` exist only where a provider serves them. */
export const FAULT_POINTS = ['token', 'api', 'authorize', 'revoke'] as const;

/** Which endpoint a fault rule targets: the token endpoint, the API, authorize or revoke. */
export type FaultPoint = (typeof FAULT_POINTS)[number];

/** The points every OAuth emulator has. */
export const BASE_FAULT_POINTS: readonly FaultPoint[] = ['token', 'api'];

/**
 * The one hook an endpoint calls around its work, so a fault (delay, reset, injected status,
 * replaced body) can be applied without the endpoint knowing about fault rules.
 */
export interface FaultInjector {
  around(
    point: FaultPoint,
    request: EmulatorRequest,
    next: () => Promise<EmulatorResponse>,
  ): Promise<EmulatorResponse>;
}

/** The injector that lets every request through untouched: the default where none is given. */
export const noFaults: FaultInjector = {
  around: (_point, _request, next) => next(),
};
