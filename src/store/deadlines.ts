/**
 * Bounds on waiting for a store server. One that stops answering (paused, partitioned,
 * overloaded) usually keeps its connections open, so nothing fails by itself: without a
 * bound, every caller of the daemon and every refresh would wait for it, and so would a
 * shutdown.
 */

/** How long one command or query may go unanswered before it fails with a STORE error. */
export const STORE_COMMAND_TIMEOUT_MS = 5_000;

/** What closing a store may wait for a server that does not answer, before its sockets are dropped. */
export const STORE_CLOSE_TIMEOUT_MS = 2_000;

/** Resolves true when `promise` settled within `ms`, false when it did not (it is left to settle). */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    timer.unref();
  });
  try {
    return await Promise.race([
      promise.then(
        () => true,
        () => true,
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** What to do about a store server that did not answer within `ms`, for an error message. */
export function didNotAnswer(ms = STORE_COMMAND_TIMEOUT_MS): string {
  return `the server did not answer within ${ms / 1000} s: check that it is up, not paused or overloaded, and reachable from this host`;
}

/** Socket errors that mean a store server could not be reached, or went away: worth trying again later. */
export const UNREACHABLE_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
]);
