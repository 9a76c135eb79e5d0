/**
 * Waits until every promise has settled or `ms` have passed, whichever comes first: how each
 * layer bounds what it waits for when it stops. Real time, not a Clock: a shutdown budget is
 * the operator's, not token time. The timer ends with the wait.
 */
export async function settledWithin(promises: Iterable<Promise<unknown>>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  try {
    await Promise.race([Promise.allSettled(promises), bound]);
  } finally {
    clearTimeout(timer);
  }
}
