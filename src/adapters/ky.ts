/**
 * tokenkeeper/ky: hooks that put a keeper's credential on ky's requests, and renew it
 * once and retry when the API answers 401.
 *
 * @example
 * import ky from 'ky';
 * import { keeperHooks } from 'tokenkeeper/ky';
 * const api = ky.create({ prefixUrl: 'https://api.factus.com.co', hooks: keeperHooks(keeper, 'acme') });
 * const bills = await api.get('v1/bills').json();
 */
import type { AfterResponseHook, BeforeRequestHook } from 'ky';
import type { Keeper } from '../keeper.js';
import { renewedAfterRejection, sendsTo } from './credential.js';

/** The hooks `keeperHooks` returns, ready for ky's `hooks` option. */
export interface KeeperHooks {
  beforeRequest: BeforeRequestHook[];
  afterResponse: AfterResponseHook[];
}

/** Hooks for `ky.create({ hooks })` or `ky.extend({ hooks })`. */
export function keeperHooks(keeper: Keeper, name: string): KeeperHooks {
  return {
    beforeRequest: [
      async (request) => {
        const credential = await keeper.credential(name);
        if (sendsTo(credential, request.url))
          request.headers.set(credential.header.name, credential.header.value);
      },
    ],
    afterResponse: [
      async (request, options, response) => {
        if (response.status !== 401) return response;
        // ky hands this hook an unsent copy of the request, headers and body included.
        const current = await keeper.credential(name);
        const sent = request.headers.get(current.header.name);
        if (sent === null || !sendsTo(current, request.url)) return response;
        // Renew only the credential that was rejected; one renewed meanwhile is used as it is.
        const renewed =
          sent === current.header.value ? await renewedAfterRejection(keeper, name, current) : current;
        if (!renewed) return response;
        const retry = request.clone();
        retry.headers.set(renewed.header.name, renewed.header.value);
        // Sent past the hooks, so a second 401 is returned as the API's answer. ky keeps the
        // fetch it was given in its options, though its types leave it out.
        const send = (options as { fetch?: typeof fetch }).fetch ?? globalThis.fetch;
        return send(retry);
      },
    ],
  };
}
