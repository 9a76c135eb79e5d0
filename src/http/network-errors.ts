/**
 * One reading of "the request got no answer at all", for every place that words it for a
 * person: API requests (auth-fetch), the token endpoint and discovery. Node's fetch says
 * `TypeError: fetch failed` with the socket error's code in `cause`, and a timeout signal
 * rejects with a `TimeoutError` (an `AbortError` from engines that do not tell them apart).
 * Our node:http requests (forward.ts, buffered-request.ts) wrap their socket errors the same
 * way, with socketFailure.
 */
export type NetworkFailure =
  | { kind: 'timeout' }
  /** Refused, reset, unknown host...: `code` is the system's name for it (ECONNREFUSED). */
  | { kind: 'unreachable'; code?: string };

/** What kept a request from getting an answer; undefined when the error is something else. */
export function networkFailureOf(error: unknown): NetworkFailure | undefined {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return { kind: 'timeout' };
  }
  const code = (error as { cause?: { code?: unknown } } | undefined)?.cause?.code;
  if (typeof code === 'string') return { kind: 'unreachable', code };
  if (error instanceof TypeError && error.message === 'fetch failed') return { kind: 'unreachable' };
  return undefined;
}

/** " (ECONNREFUSED)", or nothing when the system gave no code. */
export function codeSuffix(failure: NetworkFailure): string {
  return failure.kind === 'unreachable' && failure.code ? ` (${failure.code})` : '';
}

/**
 * node:http's socket error (ECONNREFUSED…) wrapped as fetch wraps it, in `cause`, so that
 * networkFailureOf reads both alike.
 */
export function socketFailure(error: Error): Error {
  return new Error(error.message, { cause: error });
}
