/**
 * One application process for the storm scenarios. argv[2] is a JSON PeerChildConfig.
 * Protocol, one line each way: prints `loaded`; on `login` logs in and prints
 * `ready`; on `go` sends `callers` authenticated requests at once and prints a
 * JSON StormOutcome; exits when stdin closes.
 */
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { createPeer, type PeerId } from '../peers/index.js';
import type { PeerOptions } from '../peers/types.js';

export interface PeerChildConfig {
  peer: PeerId;
  options: PeerOptions;
  callers: number;
  path: string;
}

export interface StormOutcome {
  ms: number;
  /** How the callers' requests ended: HTTP status, or the error they threw. */
  outcomes: Record<string, number>;
}

const config = JSON.parse(process.argv[2] ?? '{}') as PeerChildConfig;
const peer = createPeer(config.peer, config.options);
const say = (line: string) => process.stdout.write(`${line}\n`);

say('loaded');
for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'login') {
    await peer.login();
    say('ready');
  } else if (line === 'go') {
    say(JSON.stringify(await storm()));
  }
}
await peer.close();
// Keep-alive sockets and the seed's interval must not keep a finished child around.
process.exit(0);

async function storm(): Promise<StormOutcome> {
  const begin = performance.now();
  // All callers start in the same tick: this is the moment the token has just expired.
  const ends = await Promise.all(
    Array.from({ length: config.callers }, () =>
      peer.fetch(config.path).then(
        (status) => `HTTP ${status}`,
        (error: unknown) => `threw ${describeError(error)}`,
      ),
    ),
  );
  const outcomes: Record<string, number> = {};
  for (const end of ends) outcomes[end] = (outcomes[end] ?? 0) + 1;
  return { ms: performance.now() - begin, outcomes };
}

/** A short, secret-free name for an error: its code and the OAuth error when there is one. */
function describeError(error: unknown): string {
  const e = (error ?? {}) as {
    code?: unknown;
    name?: unknown;
    error?: unknown;
    data?: { payload?: { error?: unknown } };
  };
  const code = typeof e.code === 'string' ? e.code : String(e.name ?? 'Error');
  const oauthError =
    typeof e.error === 'string'
      ? e.error
      : typeof e.data?.payload?.error === 'string'
        ? e.data.payload.error
        : '';
  return oauthError ? `${code} (${oauthError})` : code;
}
