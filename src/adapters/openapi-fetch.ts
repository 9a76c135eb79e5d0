/**
 * tokenkeeper/openapi-fetch: a middleware that puts a keeper's credential on each
 * request of an openapi-fetch client, and renews it once and retries on a 401.
 *
 * @example
 * import createClient from 'openapi-fetch';
 * import { keeperMiddleware } from 'tokenkeeper/openapi-fetch';
 * const client = createClient<paths>({ baseUrl: 'https://api.factorialhr.com' });
 * client.use(keeperMiddleware(keeper, 'hr'));
 */
import type { Middleware } from 'openapi-fetch';
import type { Keeper, KeeperCredential } from '../keeper.js';
import { renewedAfterRejection, sendsTo } from './credential.js';

/**
 * A middleware for `client.use()`: puts the connection's credential on requests to its API
 * origin, and after a 401 renews it once and sends the request again.
 */
export function keeperMiddleware(keeper: Keeper, name: string): Middleware {
  // The request fetch consumes cannot be sent again: an unsent copy is kept for a retry.
  const sent = new WeakMap<Request, { credential: KeeperCredential; copy: Request }>();
  return {
    async onRequest({ request }) {
      const credential = await keeper.credential(name);
      if (!sendsTo(credential, request.url)) return undefined;
      request.headers.set(credential.header.name, credential.header.value);
      sent.set(request, { credential, copy: request.clone() });
      return request;
    },
    async onResponse({ request, response, options }) {
      const attempt = sent.get(request);
      if (response.status !== 401 || !attempt) return undefined;
      const renewed = await renewedAfterRejection(keeper, name, attempt.credential);
      if (!renewed) return undefined;
      attempt.copy.headers.set(renewed.header.name, renewed.header.value);
      await response.body?.cancel();
      return options.fetch(attempt.copy);
    },
  };
}
