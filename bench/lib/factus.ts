/** The Factus emulator as the storm scenarios use it, and the credentials every peer logs in with. */
import {
  FACTUS_EMULATOR_CREDENTIALS,
  type FactusRunningEmulator,
  startFactusEmulator,
} from '../../src/emulators/factus/factus-emulator.js';
import type { PasswordCredentials } from '../peers/types.js';

export const BENCH_CREDENTIALS: PasswordCredentials = { ...FACTUS_EMULATOR_CREDENTIALS };

/** A cheap authenticated Factus route. */
export const API_PATH = '/v1/numbering-ranges';

/**
 * Strict rotation (Factus's own: a used refresh token and its access token are
 * revoked at once), short-lived tokens so expiry comes in real time, and an API
 * rate limit high enough never to be the thing measured.
 */
export function startStormEmulator(accessTtlSeconds: number): Promise<FactusRunningEmulator> {
  return startFactusEmulator({ accessTtlSeconds, rotation: 'strict', rateLimitPerMinute: 1_000_000_000 });
}
