/**
 * The life of a bench child that is a server: listen on 127.0.0.1 on a free port, print
 * `{"port":…}`, and exit when stdin ends (the parent is done or gone) or after `lifetimeMs`.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export function serveUntilStdinEnds(server: Server, lifetimeMs: number): void {
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
  });
  const stop = () => {
    server.closeAllConnections();
    server.close();
    process.exit(0);
  };
  process.stdin.on('end', stop);
  process.stdin.resume();
  setTimeout(stop, lifetimeMs).unref();
}
