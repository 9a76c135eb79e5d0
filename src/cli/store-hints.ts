/**
 * A command run with `--store LOCATION` names other commands for a person to run (`tokenkeeper
 * login acme`, `tokenkeeper status`). Without the same --store they would reach the default
 * store, so each one is pointed at this store, as the daemon points its own (serve/store-argument.ts).
 * Only messages for people are touched: stderr, and what a command passes to `pointAtStore`;
 * never stdout's data (a token, an API's answer).
 */
import { storeArgumentFor } from '../serve/store-argument.js';
import { type CliIO, withChanges } from './output.js';

/** `shellEnv`: the environment the person's shell has, without the --store given here. */
export function withStoreInHints(io: CliIO, location: string, shellEnv: NodeJS.ProcessEnv): CliIO {
  const store = storeArgumentFor(location, shellEnv);
  // A URL with a password: the person typed it, and no message should repeat it.
  if (store.note !== undefined) return io;
  const pointAtStore = (message: string) => store.inMessage(message);
  let stderr: CliIO['stderr'] | undefined;
  return withChanges(io, {
    get stderr() {
      stderr ??= rewritingWrites(io.stderr, pointAtStore);
      return stderr;
    },
    pointAtStore,
  });
}

/** The same stream, its text writes passed through `rewrite` first. */
function rewritingWrites<S extends NodeJS.WritableStream>(stream: S, rewrite: (text: string) => string): S {
  return new Proxy(stream, {
    get(target, property) {
      if (property === 'write') {
        return (chunk: unknown, ...rest: unknown[]) =>
          (target.write as (...args: unknown[]) => boolean)(
            typeof chunk === 'string' ? rewrite(chunk) : chunk,
            ...rest,
          );
      }
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
