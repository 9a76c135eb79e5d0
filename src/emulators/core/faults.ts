/**
 * The seam for fault injection. Every token request and every API request passes
 * through `FaultInjector.around(point, request, next)`; the default passes straight
 * through. A later `/__emulator/faults` endpoint (registered in control-routes.ts) can
 * swap in an injector that answers 500/503, waits before calling `next`, or replaces
 * the response with garbage — without touching the token endpoint or any provider.
 */
import type { EmulatorRequest, EmulatorResponse } from './router.js';

/** `authorize` and `revoke` are the endpoints of providers that serve them. */
export type FaultPoint = 'token' | 'api' | 'authorize' | 'revoke';

export interface FaultInjector {
  around(
    point: FaultPoint,
    request: EmulatorRequest,
    next: () => Promise<EmulatorResponse>,
  ): Promise<EmulatorResponse>;
}

export const noFaults: FaultInjector = {
  around: (_point, _request, next) => next(),
};
