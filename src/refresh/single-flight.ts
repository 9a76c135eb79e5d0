/**
 * At most one operation per key at a time: callers that arrive while one is
 * running share its result instead of starting their own.
 */
export class SingleFlight<T> {
  readonly #inFlight = new Map<string, Promise<T>>();

  run(key: string, operation: () => Promise<T>): Promise<T> {
    const running = this.#inFlight.get(key);
    if (running) return running;
    const promise = operation().finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, promise);
    return promise;
  }

  isRunning(key: string): boolean {
    return this.#inFlight.has(key);
  }
}
