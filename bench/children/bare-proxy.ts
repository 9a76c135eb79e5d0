/**
 * The least a Node.js proxy can do, as a yardstick for the daemon's /proxy: node:http in,
 * node:http out on a keep-alive agent, a fixed Authorization set, the body piped back
 * (stream.pipe: stream.pipeline's bookkeeping costs a loopback proxy half its rate).
 * No access check, no rate limit, no 401 or 429 rules, no metrics. argv: <upstream URL>
 * <Authorization> [lifetime ms]. Prints `{"port":…}`, exits when stdin closes.
 */
import { Agent, createServer, request } from 'node:http';
import { serveUntilStdinEnds } from '../lib/serve-child.js';

const [upstream = '', authorization = '', lifetime = '600000'] = process.argv.slice(2);
const agent = new Agent({ keepAlive: true });
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding']);

const server = createServer((incoming, outgoing) => {
  const onward = request(
    `${upstream}${incoming.url}`,
    { method: incoming.method, headers: { accept: incoming.headers.accept ?? '*/*', authorization }, agent },
    (answer) => {
      const headers: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(answer.headers)) {
        if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
      }
      outgoing.writeHead(answer.statusCode ?? 502, headers);
      answer.once('error', () => outgoing.destroy());
      answer.pipe(outgoing);
    },
  );
  onward.once('error', () => outgoing.destroy());
  incoming.pipe(onward);
});

serveUntilStdinEnds(server, Number(lifetime));
