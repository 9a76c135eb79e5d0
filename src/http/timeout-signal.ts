/**
 * A request's timeout that a longer-lived signal can also end (an application's signal given
 * to keeper.fetch, the keeper's own closing for token requests): what
 * `AbortSignal.any([longLived, AbortSignal.timeout(ms)])` does, without its leak on Node 20
 * (nodejs/node#55351). There, the long-lived signal keeps every signal ever combined with it
 * listed for good: one more per request. Here it carries one listener and weak references,
 * and a reference goes, with its request's timer, once the request's signal is collected.
 */

type Children = Set<WeakRef<AbortController>>;

/** Per long-lived signal: the controllers of the requests under it. */
const childrenOf = new WeakMap<AbortSignal, Children>();
/** A controller lives as long as its signal is in use (the signal alone does not hold it). */
const ownerOf = new WeakMap<AbortSignal, AbortController>();
/** Once a request is collected, its reference goes and its timer is stopped. */
const forgetCollected = new FinalizationRegistry<{
  children: Children;
  ref: WeakRef<AbortController>;
  timer: NodeJS.Timeout;
}>(({ children, ref, timer }) => {
  children.delete(ref);
  clearTimeout(timer);
});

/** A signal that aborts with `parent`'s reason when it aborts, or with a TimeoutError after `timeoutMs`. */
export function timeoutUnder(parent: AbortSignal, timeoutMs: number): AbortSignal {
  if (parent.aborted) return AbortSignal.abort(parent.reason);
  const controller = new AbortController();
  const ref = new WeakRef(controller);
  // A plain timer holding the request weakly, stopped once the request is collected: an
  // AbortSignal.timeout with a listener is kept by Node until it fires, about 1.4 KB a
  // request (30,000 requests under a 2-minute timeout held 41 MB more for those 2 minutes).
  const timer = timeoutTimer(timeoutMs, (reason) => ref.deref()?.abort(reason));
  ownerOf.set(controller.signal, controller);
  const children = requestsUnder(childrenOf, parent, (child, reason) => child.deref()?.abort(reason));
  children.add(ref);
  forgetCollected.register(controller, { children, ref, timer });
  return controller.signal;
}

/** A timer that aborts as AbortSignal.timeout does: with a TimeoutError, and unref'd like its. */
function timeoutTimer(timeoutMs: number, abort: (reason: DOMException) => void): NodeJS.Timeout {
  const timer = setTimeout(
    () => abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')),
    timeoutMs,
  );
  // A request under way keeps the process alive by itself.
  timer.unref();
  return timer;
}

/** A request's signal, and what its caller calls once the request is over. */
export interface ReleasableSignal {
  signal: AbortSignal;
  /** Stops the timer and forgets the request: nothing of it is kept once it is over. */
  release(): void;
}

/** Per long-lived signal: the controllers of the requests under it not released yet. */
const unreleasedOf = new WeakMap<AbortSignal, Set<AbortController>>();

/**
 * timeoutUnder, for a request whose end its caller knows (a token request reads its whole
 * answer): no weak references, and no timer or listener outlives the request. A daemon at
 * 730 refreshes a second grew to 340-460 MiB with timeoutUnder's 30-s timeout signals, each
 * keeping a finished request until it fired, and stays near 170 MiB with this.
 */
export function releasableTimeoutUnder(parent: AbortSignal, timeoutMs: number): ReleasableSignal {
  if (parent.aborted) return { signal: AbortSignal.abort(parent.reason), release: () => {} };
  const controller = new AbortController();
  const timer = timeoutTimer(timeoutMs, (reason) => controller.abort(reason));
  const unreleased = requestsUnder(unreleasedOf, parent, (request, reason) => request.abort(reason));
  unreleased.add(controller);
  return {
    signal: controller.signal,
    release: () => {
      clearTimeout(timer);
      unreleased.delete(controller);
    },
  };
}

/** How many requests not released yet `parent` references: for tests of the leak. */
export function unreleasedUnder(parent: AbortSignal): number {
  return unreleasedOf.get(parent)?.size ?? 0;
}

/** How many requests' signals `parent` still references: for tests of the leak. */
export function signalsUnder(parent: AbortSignal): number {
  return childrenOf.get(parent)?.size ?? 0;
}

/** The requests under `parent` in `byParent`: one listener on `parent` aborts them all. */
function requestsUnder<T>(
  byParent: WeakMap<AbortSignal, Set<T>>,
  parent: AbortSignal,
  abort: (request: T, reason: unknown) => void,
): Set<T> {
  const known = byParent.get(parent);
  if (known) return known;
  const requests = new Set<T>();
  byParent.set(parent, requests);
  parent.addEventListener(
    'abort',
    () => {
      for (const request of requests) abort(request, parent.reason);
      requests.clear();
    },
    { once: true },
  );
  return requests;
}
