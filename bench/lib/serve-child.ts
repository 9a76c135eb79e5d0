/**
 * The life of a bench child that is a server: listen on 127.0.0.1 on a free port, print
 * `{"port":…}`, answer each `cpu` line on stdin with `{"cpuMs":…}` (the CPU this process
 * has used so far, so the parent can say what each request cost it), and exit when stdin
 * ends (the parent is done or gone) or after `lifetimeMs`.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';

export function serveUntilStdinEnds(server: Server, lifetimeMs: number): void {
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
  });
  const stop = () => {
    server.closeAllConnections();
    server.close();
    process.exit(0);
  };
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (line === 'cpu') process.stdout.write(`${JSON.stringify({ cpuMs: processCpuMs() })}\n`);
  });
  lines.on('close', stop);
  setTimeout(stop, lifetimeMs).unref();
}

/** User and system CPU this process has used since it started, in ms. */
export function processCpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}
