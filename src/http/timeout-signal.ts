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
  const timeout = AbortSignal.timeout(timeoutMs);
  timeout.addEventListener('abort', () => controller.abort(timeout.reason), { once: true });
  ownerOf.set(controller.signal, controller);
  const ref = new WeakRef(controller);
  const children = childrenUnder(parent);
  children.add(ref);
  forgetCollected.register(controller, { children, ref });
  return controller.signal;
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
