/**
 * A request's timeout that a longer-lived signal can also end (an application's signal given
 * to keeper.fetch, the keeper's own closing for token requests): what
 * `AbortSignal.any([longLived, AbortSignal.timeout(ms)])` does, without its leak on Node 20
 * (nodejs/node#55351). There, the long-lived signal keeps every signal ever combined with it
 * listed for good: one more per request. Here it carries one listener and weak references,
 * and a reference goes once the request's signal is collected.
 */

type Children = Set<WeakRef<AbortController>>;

/** Per long-lived signal: the controllers of the requests under it. */
const childrenOf = new WeakMap<AbortSignal, Children>();
/** A controller lives as long as its signal is in use (the signal alone does not hold it). */
const ownerOf = new WeakMap<AbortSignal, AbortController>();
const forgetCollected = new FinalizationRegistry<{ children: Children; ref: WeakRef<AbortController> }>(
  ({ children, ref }) => children.delete(ref),
);

/** A signal that aborts with `parent`'s reason when it aborts, or with a TimeoutError after `timeoutMs`. */
export function timeoutUnder(parent: AbortSignal, timeoutMs: number): AbortSignal {
  if (parent.aborted) return AbortSignal.abort(parent.reason);
  const controller = new AbortController();
  const ref = new WeakRef(controller);
  const timeout = AbortSignal.timeout(timeoutMs);
  // Node keeps a timeout signal that has a listener until it fires, and its listener with it:
  // a listener that held the controller would keep each finished request (its signal's
  // listeners, node:http's request and answer) for the whole timeout. A weak reference keeps
  // only the listener, and the controller stays as long as its signal is in use (ownerOf).
  timeout.addEventListener('abort', () => ref.deref()?.abort(timeout.reason), { once: true });
  ownerOf.set(controller.signal, controller);
  const children = childrenUnder(parent);
  children.add(ref);
  forgetCollected.register(controller, { children, ref });
  return controller.signal;
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
 * answer): no weak references, no timeout signal waiting out its time after the request.
 * At 700 refreshes a second, the 30-s timeout signals kept by timeoutUnder held over
 * 100 MB that a major GC had to find.
 */
export function releasableTimeoutUnder(parent: AbortSignal, timeoutMs: number): ReleasableSignal {
  if (parent.aborted) return { signal: AbortSignal.abort(parent.reason), release: () => {} };
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')),
    timeoutMs,
  );
  timer.unref(); // as AbortSignal.timeout's: a request under way keeps the process alive by itself
  const unreleased = unreleasedUnder(parent);
  unreleased.add(controller);
  return {
    signal: controller.signal,
    release: () => {
      clearTimeout(timer);
      unreleased.delete(controller);
    },
  };
}

function unreleasedUnder(parent: AbortSignal): Set<AbortController> {
  const known = unreleasedOf.get(parent);
  if (known) return known;
  const unreleased = new Set<AbortController>();
  unreleasedOf.set(parent, unreleased);
  parent.addEventListener(
    'abort',
    () => {
      for (const controller of unreleased) controller.abort(parent.reason);
      unreleased.clear();
    },
    { once: true },
  );
  return unreleased;
}

/** How many unreleased requests' signals `parent` references: for tests of the leak. */
export function unreleasedUnderCount(parent: AbortSignal): number {
  return unreleasedOf.get(parent)?.size ?? 0;
}

/** How many requests' signals `parent` still references: for tests of the leak. */
export function signalsUnder(parent: AbortSignal): number {
  return childrenOf.get(parent)?.size ?? 0;
}

function childrenUnder(parent: AbortSignal): Children {
  const known = childrenOf.get(parent);
  if (known) return known;
  const children: Children = new Set();
  childrenOf.set(parent, children);
  parent.addEventListener(
    'abort',
    () => {
      for (const ref of children) ref.deref()?.abort(parent.reason);
      children.clear();
    },
    { once: true },
  );
  return children;
}
