/**
 * The back-off that a transient failure of the token endpoint leaves in the store, so that
 * every process (a cold one too) waits it out. It sits in the clear part of the record,
 * which nothing authenticates: anyone who can write the store can write it. So it is read
 * as a hint: its code is one of the few that a back-off is ever written for, its words are
 * ours, and one write holds a connection back no longer than the longest back-off the
 * keeper itself sets. A store writer can still delay refreshes (as by deleting the row),
 * but cannot put words in our mouth or lock a connection out for an hour.
 */
import { type ErrorCode, TokenkeeperError } from '../errors.js';

/** What each code a back-off is written for (refresh/failures.ts, isTransient) says about the token endpoint. */
const WORDING = {
  NETWORK: 'could not be reached',
  RATE_LIMITED: 'asked for fewer requests (HTTP 429)',
  TOKEN_ENDPOINT: 'failed with a server error',
  TOKEN_RESPONSE: 'answered a server error that could not be read',
} as const satisfies Partial<Record<ErrorCode, string>>;

export type SharedBackoffCode = keyof typeof WORDING;

/** Any other code was not written by tokenkeeper. */
const GENERIC_CODE: SharedBackoffCode = 'TOKEN_ENDPOINT';

export interface SharedBackoff {
  /** Consecutive transient failures: how far along the retry schedule the next one starts. */
  failures: number;
  /** No token request before this instant (ms since the epoch), unless forced. */
  until: number;
  code: SharedBackoffCode;
}

/** The stored code as one a back-off is written for, or the generic one. */
export function sharedBackoffCode(code: unknown): SharedBackoffCode {
  return typeof code === 'string' && Object.hasOwn(WORDING, code)
    ? (code as SharedBackoffCode)
    : GENERIC_CODE;
}

/**
 * The stored back-off, checked: undefined when there is none (or no instant in it). An
 * `until` more than `longestMs` after `now` was not set by a keeper (hosts keep their clocks
 * by NTP, as leases already assume), so that back-off is over: cut to `now + longestMs`
 * instead, it would move on with every read and never end.
 */
export function readSharedBackoff(
  stored: unknown,
  now: number,
  longestMs: number,
): SharedBackoff | undefined {
  if (typeof stored !== 'object' || stored === null) return undefined;
  const { failures, until, code } = stored as Record<string, unknown>;
  if (typeof until !== 'number' || Number.isNaN(until)) return undefined;
  return {
    failures: typeof failures === 'number' && Number.isSafeInteger(failures) && failures > 0 ? failures : 1,
    until: until - now > longestMs ? now : until,
    code: sharedBackoffCode(code),
  };
}

/** Why no token is requested now, in our words only. */
export function backingOffError(connection: string, backoff: SharedBackoff, now: number): TokenkeeperError {
  return new TokenkeeperError(
    backoff.code,
    `The token endpoint of "${connection}" ${WORDING[backoff.code]} a moment ago (in this process or ` +
      `another one sharing the store); tokenkeeper tries again in ${Math.ceil((backoff.until - now) / 1000)} s. ` +
      `To try now: tokenkeeper refresh ${connection}`,
    { connection },
  );
}
