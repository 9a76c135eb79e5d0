/**
 * What an emulator counts, served as JSON at `GET /__emulator/stats`. The key names are
 * part of the emulator's contract: tests and benchmarks read them.
 */

export interface EmulatorStats {
  /** Every request to the token endpoint, then one key per supported grant type. */
  tokenRequests: { total: number } & Record<string, number>;
  /** Token endpoint answers with `error: "invalid_grant"`. */
  invalidGrant: number;
  /** Every request to a Bearer-protected API route, whatever its outcome. */
  apiRequests: number;
  /** API requests refused with 401 (missing, malformed, unknown, expired or revoked token). */
  unauthorized: number;
  /** API requests refused with 429. */
  rateLimited: number;
}

export class EmulatorStatsCounter {
  readonly #grantTypes: readonly string[];
  #stats: EmulatorStats;

  /** `grantTypes`: the grant types the emulator supports, each gets a key (0 until used). */
  constructor(grantTypes: readonly string[]) {
    this.#grantTypes = [...grantTypes];
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

  /** A copy, safe to hand out. */
  snapshot(): EmulatorStats {
    return { ...this.#stats, tokenRequests: { ...this.#stats.tokenRequests } };
  }

  reset(): void {
    this.#stats = this.#zero();
  }

  #zero(): EmulatorStats {
    const tokenRequests: EmulatorStats['tokenRequests'] = { total: 0 };
    for (const grantType of this.#grantTypes) tokenRequests[grantType] = 0;
    return { tokenRequests, invalidGrant: 0, apiRequests: 0, unauthorized: 0, rateLimited: 0 };
  }
}
