/**
 * The keep-alive agents our node:http requests go out on: the daemon's proxy (forward.ts)
 * and exchanges with authorization servers (buffered-request.ts) share one pool of sockets
 * per origin.
 */
import {
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingMessage,
  type RequestOptions,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

// Idle sockets of a keep-alive agent are unref'd: they never hold a process open. The
// timeout is the one Node's global agent has; with it, an idle socket is also closed a
// second before the server says it will close it (`Keep-Alive: timeout=5`), so a request
// is not written onto a socket the server is closing, which resets it.
const agentOptions = { keepAlive: true, timeout: 5_000 };
const httpAgent = new HttpAgent(agentOptions);
const httpsAgent = new HttpsAgent(agentOptions);

/** node:http's or node:https's request (by the URL's scheme), on its keep-alive agent. */
export function keepAliveRequest(
  url: string,
  options: RequestOptions,
  onResponse?: (response: IncomingMessage) => void,
) {
  const secure = url.startsWith('https:');
  return (secure ? httpsRequest : httpRequest)(
    url,
    { ...options, agent: secure ? httpsAgent : httpAgent },
    onResponse,
  );
}
