/**
 * tokenkeeper/undici: an interceptor, and a dispatcher built with it, so that
 * `undici.request(url, { dispatcher })` and `fetch(url, { dispatcher })` carry a keeper's
 * credential and renew it once and retry when the API answers 401.
 *
 * @example
 * import { request } from 'undici';
 * import { keeperDispatcher } from 'tokenkeeper/undici';
 * const dispatcher = keeperDispatcher(keeper, 'acme');
 * const { body } = await request('https://api.factus.com.co/v1/bills', { dispatcher });
 * const response = await fetch('https://api.factus.com.co/v1/bills', { dispatcher });
 *
 * Written for undici 7 and later (the handler API with onRequestStart / onResponseStart).
 */
import { Agent, type Dispatcher } from 'undici';
import type { Keeper, KeeperCredential } from '../keeper.js';
import { renewedAfterRejection, sendsTo } from './credential.js';

type DispatchFn = Dispatcher['dispatch'];
type DispatchOptions = Dispatcher.DispatchOptions;
type Handler = Dispatcher.DispatchHandler;
type Controller = Dispatcher.DispatchController;

/** An Agent (`new Agent(options)`) whose requests carry the connection's credential. */
export function keeperDispatcher(keeper: Keeper, name: string, options?: Agent.Options): Dispatcher {
  return new Agent(options).compose(keeperInterceptor(keeper, name));
}

/** For `dispatcher.compose(keeperInterceptor(keeper, name))` on a dispatcher of your own. */
export function keeperInterceptor(keeper: Keeper, name: string): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch: DispatchFn): DispatchFn =>
    (options: DispatchOptions, handler: Handler): boolean => {
      const send = (credential: KeeperCredential, renewable: boolean): void => {
        const headers = withCredential(options.headers, credential);
        // A body that is a stream is gone once sent: only a replayable request is retried.
        const retryable = renewable && credential.refreshable && replayable(options.body);
        const onRejected = async () => {
          const renewed = await renewedAfterRejection(keeper, name, credential);
          if (!renewed) throw new Error('The API rejected the credential, and it cannot be renewed.');
          send(renewed, false);
        };
        dispatch({ ...options, headers }, retryable ? new RenewOn401Handler(handler, onRejected) : handler);
      };
      keeper.credential(name).then(
        (credential) => {
          const url = new URL(options.path, String(options.origin));
          if (sendsTo(credential, url)) send(credential, true);
          else dispatch(options, handler);
        },
        (error: Error) => handler.onResponseError?.(new IdleController(), error),
      );
      return true;
    };
}

/** Headers in any form undici takes, as one object, with the credential header set. */
function withCredential(
  headers: DispatchOptions['headers'],
  credential: KeeperCredential,
): Record<string, string | string[]> {
  const name = credential.header.name.toLowerCase();
  const result: Record<string, string | string[]> = {};
  const add = (key: string, value: unknown) => {
    const lower = key.toLowerCase();
    if (lower === name || value === undefined || value === null) return;
    const values = Array.isArray(value) ? value.map(String) : [String(value)];
    const existing = result[lower];
    result[lower] =
      existing === undefined ? (values.length === 1 ? values[0]! : values) : [existing, values].flat();
  };
  if (Array.isArray(headers)) {
    // Either [[name, value], …] or the flat [name, value, name, value, …].
    if (headers.length > 0 && Array.isArray(headers[0])) {
      for (const [key, value] of headers as unknown as Array<[string, unknown]>) add(key, value);
    } else {
      for (let i = 0; i + 1 < headers.length; i += 2) add(String(headers[i]), headers[i + 1]);
    }
  } else if (headers && typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') {
    for (const [key, value] of headers as Iterable<[string, unknown]>) add(key, value);
  } else if (headers) {
    for (const [key, value] of Object.entries(headers)) add(key, value);
  }
  result[name] = credential.header.value;
  return result;
}

function replayable(body: DispatchOptions['body']): boolean {
  return body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array;
}

/**
 * Passes everything to the caller's handler except a first 401: its body is dropped, and
 * `onRejected` sends the request again with a renewed credential through this same
 * handler. The caller sees one request: one onRequestStart, with a controller that
 * follows whichever attempt is running.
 */
class RenewOn401Handler implements Handler {
  readonly #downstream: Handler;
  readonly #onRejected: () => Promise<void>;
  readonly #controller = new FollowingController();
  #started = false;
  #dropping = false;

  constructor(downstream: Handler, onRejected: () => Promise<void>) {
    this.#downstream = downstream;
    this.#onRejected = onRejected;
  }

  onRequestStart(controller: Controller, context: unknown): void {
    this.#controller.current = controller;
    if (this.#started) return;
    this.#started = true;
    this.#downstream.onRequestStart?.(this.#controller, context);
  }

  onRequestUpgrade(
    _controller: Controller,
    statusCode: number,
    headers: Record<string, string | string[]>,
    socket: import('node:stream').Duplex,
  ): void {
    this.#downstream.onRequestUpgrade?.(this.#controller, statusCode, headers, socket);
  }

  onResponseStart(
    _controller: Controller,
    statusCode: number,
    headers: Record<string, string | string[]>,
    statusMessage?: string,
  ): void {
    if (statusCode === 401 && !this.#dropping) {
      this.#dropping = true;
      return;
    }
    this.#downstream.onResponseStart?.(this.#controller, statusCode, headers, statusMessage);
  }

  onResponseData(_controller: Controller, chunk: Buffer): void {
    if (!this.#dropping) this.#downstream.onResponseData?.(this.#controller, chunk);
  }

  onResponseEnd(_controller: Controller, trailers: Record<string, string | string[]>): void {
    if (!this.#dropping) {
      this.#downstream.onResponseEnd?.(this.#controller, trailers);
      return;
    }
    // The retry goes straight to the caller's handler: a second 401 is the API's answer.
    this.#onRejected().catch((error: Error) => this.#downstream.onResponseError?.(this.#controller, error));
  }

  onResponseError(_controller: Controller, error: Error): void {
    this.#downstream.onResponseError?.(this.#controller, error);
  }
}

/** A controller that pauses, resumes and aborts whichever attempt is current. */
class FollowingController implements Controller {
  #current: Controller | undefined;
  #paused = false;

  get current(): Controller | undefined {
    return this.#current;
  }
  set current(controller: Controller) {
    this.#current = controller;
    // A pause the caller asked for holds across attempts.
    if (this.#paused) controller.pause();
  }
  get aborted(): boolean {
    return this.current?.aborted ?? false;
  }
  get paused(): boolean {
    return this.#paused;
  }
  get reason(): Error | null {
    return this.current?.reason ?? null;
  }
  abort(reason: Error): void {
    this.current?.abort(reason);
  }
  pause(): void {
    this.#paused = true;
    this.current?.pause();
  }
  resume(): void {
    this.#paused = false;
    this.current?.resume();
  }
}

/** For an error before any attempt started (the keeper could not give a credential). */
class IdleController implements Controller {
  readonly aborted = false;
  readonly paused = false;
  readonly reason = null;
  abort(): void {}
  pause(): void {}
  resume(): void {}
}
