/** Starts children/bearer-server (and bare-proxy, its yardstick proxy) in a process of its own. */
import { askCpuMs, childScript, LineChild } from './child.js';

export interface BearerServer {
  url: string;
  /** The CPU the child has used since it started (ms). */
  cpuMs(): Promise<number>;
  stop(): Promise<void>;
}

export function startBearerServer(lifetimeMs: number): Promise<BearerServer> {
  return startListeningChild('bearer-server', [String(lifetimeMs)]);
}

/** The least a Node.js proxy can do in front of `upstream` (children/bare-proxy), for comparison. */
export function startBareProxy(upstream: string, authorization: string): Promise<BearerServer> {
  return startListeningChild('bare-proxy', [upstream, authorization, String(30 * 60_000)]);
}

/** A child that prints `{"port":…}` once it listens on 127.0.0.1. */
async function startListeningChild(script: string, args: string[]): Promise<BearerServer> {
  const child = new LineChild(childScript(script), { args });
  try {
    const { port } = JSON.parse(await child.next(10_000)) as { port: number };
    return {
      url: `http://127.0.0.1:${port}`,
      cpuMs: () => askCpuMs(child),
      stop: () => child.close(),
    };
  } catch (error) {
    await child.close();
    throw error;
  }
}
