/**
 * Shared settings of the property-based suite. Every property runs with a fixed seed so CI
 * is deterministic; a developer explores with
 *
 *   FUZZ_SEED=12345 node scripts/run-tests.mjs fuzz     (another fixed seed)
 *   FUZZ_SEED=random node scripts/run-tests.mjs fuzz    (a fresh seed, printed on failure)
 *   FUZZ_RUNS=5000 node scripts/run-tests.mjs fuzz      (runs per property, instead of each one's default)
 *
 * A failure prints the seed and the shrunk counterexample; keep it as a unit test.
 */
import fc from 'fast-check';
import { TokenkeeperError } from '../../src/errors.js';

const DEFAULT_SEED = 20_260_901;

function seedFromEnv(): number | undefined {
  const raw = process.env.FUZZ_SEED?.trim();
  if (!raw) return DEFAULT_SEED;
  if (raw === 'random') return undefined;
  const seed = Number(raw);
  if (!Number.isSafeInteger(seed)) throw new Error(`FUZZ_SEED must be an integer or "random", got ${raw}`);
  return seed;
}

function runsFromEnv(): number | undefined {
  const raw = process.env.FUZZ_RUNS?.trim();
  if (!raw) return undefined;
  const runs = Number(raw);
  if (!Number.isSafeInteger(runs) || runs < 1)
    throw new Error(`FUZZ_RUNS must be a positive integer, got ${raw}`);
  return runs;
}

const seed = seedFromEnv();
const runsOverride = runsFromEnv();

fc.configureGlobal(seed === undefined ? {} : { seed });

/** The parameters of one property: its default number of runs unless FUZZ_RUNS says otherwise. */
export function fuzzParams(defaultRuns: number): { numRuns: number } {
  return { numRuns: runsOverride ?? defaultRuns };
}

/** The error codes tokenkeeper throws: a typed error always carries one of them. */
const ERROR_CODES = new Set([
  'CONFIG',
  'USAGE',
  'STORE',
  'STORE_KEY',
  'LOCK_TIMEOUT',
  'NOT_FOUND',
  'REAUTH_REQUIRED',
  'TOKEN_ENDPOINT',
  'TOKEN_RESPONSE',
  'RATE_LIMITED',
  'NETWORK',
  'AUTHORIZATION',
  'HTTP',
]);

/** Rethrows anything that is not a TokenkeeperError with one of `codes` (any known code by default). */
export function assertTyped(error: unknown, codes?: readonly string[]): asserts error is TokenkeeperError {
  if (!(error instanceof TokenkeeperError)) {
    throw new Error(`expected a TokenkeeperError, got ${describe(error)}`, { cause: error });
  }
  if (!ERROR_CODES.has(error.code) || (codes !== undefined && !codes.includes(error.code))) {
    throw new Error(`unexpected error code ${error.code}: ${error.message}`, { cause: error });
  }
  if (error.message.trim() === '') throw new Error(`a ${error.code} error without a message`);
}

function describe(value: unknown): string {
  if (value instanceof Error) return `${value.constructor.name}: ${value.message}`;
  try {
    return `${typeof value} ${JSON.stringify(value)}`;
  } catch {
    return typeof value;
  }
}

export { fc };
