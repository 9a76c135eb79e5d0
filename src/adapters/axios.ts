/**
 * tokenkeeper/axios: a keeper's credential on every request of an axios instance, and
 * one renewal and retry when the API answers 401.
 *
 * @example
 * import axios from 'axios';
 * import { useKeeper } from 'tokenkeeper/axios';
 * const api = axios.create({ baseURL: 'https://api.factus.com.co' });
 * useKeeper(api, keeper, 'acme');
 * const { data } = await api.get('/v1/bills');
 */
import type { AxiosError, AxiosInstance, InternalAxiosRequestConfig } from 'axios';
import type { Keeper, KeeperCredential } from '../keeper.js';
import { renewedAfterRejection, sendsTo } from './credential.js';

/** What the request interceptor remembers on a request's config, for the 401 handler. */
const SENT = Symbol('tokenkeeper.sentCredential');
const RETRIED = Symbol('tokenkeeper.retried');

type TrackedConfig = InternalAxiosRequestConfig & { [SENT]?: KeeperCredential; [RETRIED]?: boolean };

/**
 * Adds the interceptors to `instance`. Returns a function that removes them again.
 * Requests to another origin than the connection's API go out without the credential.
 */
export function useKeeper(instance: AxiosInstance, keeper: Keeper, name: string): () => void {
  const request = instance.interceptors.request.use(async (config: TrackedConfig) => {
    const credential = await keeper.credential(name);
    if (!sendsTo(credential, instance.getUri(config))) return config;
    config.headers.set(credential.header.name, credential.header.value);
    config[SENT] = credential;
    return config;
  });
  const response = instance.interceptors.response.use(undefined, async (error: AxiosError) => {
    const config = error.config as TrackedConfig | undefined;
    const sent = config?.[SENT];
    if (error.response?.status !== 401 || !config || !sent || config[RETRIED]) throw error;
    const renewed = await renewedAfterRejection(keeper, name, sent);
    if (!renewed) throw error;
    // Once: a second 401 is the API's answer, not a stale token. The request interceptor sets the new header.
    config[RETRIED] = true;
    return instance.request(config);
  });
  return () => {
    instance.interceptors.request.eject(request);
    instance.interceptors.response.eject(response);
  };
}
