/** Starts children/bearer-server in its own process and says where it listens. */
import { childScript, LineChild } from './child.js';

export interface BearerServer {
  url: string;
  stop(): Promise<void>;
}

export async function startBearerServer(lifetimeMs: number): Promise<BearerServer> {
  const child = new LineChild(childScript('bearer-server'), { args: [String(lifetimeMs)] });
  try {
    const { port } = JSON.parse(await child.next(10_000)) as { port: number };
    return { url: `http://127.0.0.1:${port}`, stop: () => child.close() };
  } catch (error) {
    await child.close();
    throw error;
  }
}
