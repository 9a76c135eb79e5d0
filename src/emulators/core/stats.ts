import { BASE_FAULT_POINTS, type FaultPoint } from './faults.js';

/**
 * What an emulator counts, served as JSON at `GET /__emulator/stats`. The key names are
 * part of the emulator's contract: tests and benchmarks read them.
 */

export interface EmulatorStats {
  /**
   * Every request that reached the token endpoint, then one key per supported grant type. A request
   * a fault rule answers (`status`) or drops (`reset`) never reaches it and counts under `faults` only.
   */
  tokenRequests: { total: number } & Record<string, number>;
  /** Token endpoint answers with `error: "invalid_grant"`. */
  invalidGrant: number;
  /**
   * Every request that reached a Bearer-protected API route, whatever the route answered (401 and
   * 429 included). As for the token endpoint, one a fault rule answers or drops counts under
   * `faults` only (docs/fault-injection.md).
   */
  apiRequests: number;
  /** API requests refused with 401 (missing, malformed, unknown, expired or revoked token). */
  unauthorized: number;
  /** API requests refused with 429. */
  rateLimited: number;
  /** Authorization codes issued (only for emulators that count it, see {@link OptionalCounter}). */
  authorizations?: number;
  /** Revocation requests that revoked a token of the requesting client (only when counted). */
  revocations?: number;
  /** Requests a fault rule was applied to: in all, then per fault point the emulator serves. */
  faults: { total: number } & Partial<Record<FaultPoint, number>>;
}

/** Counters an emulator opts into; they appear in the stats (after the common ones) only then. */
export type OptionalCounter = 'authorizations' | 'revocations';

export interface EmulatorStatsCounterOptions {
  optionalCounters?: readonly OptionalCounter[];
  /** The fault points the emulator serves, each counted under `faults`. Default token and api. */
  faultPoints?: readonly FaultPoint[];
}

export class EmulatorStatsCounter {
  readonly #grantTypes: readonly string[];
  readonly #optional: readonly OptionalCounter[];
  readonly #faultPoints: readonly FaultPoint[];
  #stats: EmulatorStats;

  /** `grantTypes`: the grant types the emulator supports, each gets a key (0 until used). */
  constructor(grantTypes: readonly string[], options: EmulatorStatsCounterOptions = {}) {
    this.#grantTypes = [...grantTypes];
    this.#optional = [...new Set(options.optionalCounters ?? [])];
    this.#faultPoints = [...new Set(options.faultPoints ?? BASE_FAULT_POINTS)];
    this.#stats = this.#zero();
  }

  /** Counts a token request; `grantType` only gets its own count when it is supported. */
  tokenRequest(grantType: string | undefined): void {
    this.#stats.tokenRequests.total += 1;
    if (grantType !== undefined && this.#grantTypes.includes(grantType)) {
      this.#stats.tokenRequests[grantType] = (this.#stats.tokenRequests[grantType] ?? 0) + 1;
    }
  }

  invalidGrant(): void {
    this.#stats.invalidGrant += 1;
  }

  apiRequest(): void {
    this.#stats.apiRequests += 1;
  }

  unauthorized(): void {
    this.#stats.unauthorized += 1;
  }

  rateLimited(): void {
    this.#stats.rateLimited += 1;
  }

  /** An authorization code was issued (ignored unless `authorizations` is counted). */
  authorization(): void {
    this.#countOptional('authorizations');
  }

  /** A token was revoked (ignored unless `revocations` is counted). */
  revocation(): void {
    this.#countOptional('revocations');
  }

  /** A fault rule was applied to a request at `point`. */
  fault(point: FaultPoint): void {
    const { faults } = this.#stats;
    faults.total += 1;
    faults[point] = (faults[point] ?? 0) + 1;
  }

  #countOptional(name: OptionalCounter): void {
    const current = this.#stats[name];
    if (current !== undefined) this.#stats[name] = current + 1;
  }

  /** A copy, safe to hand out. */
  snapshot(): EmulatorStats {
    return {
      ...this.#stats,
      tokenRequests: { ...this.#stats.tokenRequests },
      faults: { ...this.#stats.faults },
    };
  }

  reset(): void {
    this.#stats = this.#zero();
  }

  #zero(): EmulatorStats {
    const tokenRequests: EmulatorStats['tokenRequests'] = { total: 0 };
    for (const grantType of this.#grantTypes) tokenRequests[grantType] = 0;
    const stats: Omit<EmulatorStats, 'faults'> = {
      tokenRequests,
      invalidGrant: 0,
      apiRequests: 0,
      unauthorized: 0,
      rateLimited: 0,
    };
    for (const name of this.#optional) stats[name] = 0;
    const faults: EmulatorStats['faults'] = { total: 0 };
    for (const point of this.#faultPoints) faults[point] = 0;
    // Last, after the optional counters, so the older keys keep their place in the JSON.
    return { ...stats, faults };
  }
}
