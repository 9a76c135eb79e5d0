/**
 * One application process for the storm scenarios. argv[2] is a JSON PeerChildConfig.
 * Protocol, one line each way: prints `loaded`; on `login` logs in and prints
 * `ready`; on `go` starts `callers` callers at once and prints a JSON StormOutcome;
 * exits when stdin closes. A caller either asks the library for a token (`token`
 * mode; each distinct token is then tried once against the API) or makes one
 * authenticated request through it (`fetch` mode).
 */
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { createPeer, type PeerId } from '../peers/index.js';
import type { PeerOptions } from '../peers/types.js';

export interface PeerChildConfig {
  peer: PeerId;
  options: PeerOptions;
  mode: 'token' | 'fetch';
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
/** The API's answer to each distinct token handed out (token mode). */
const verdicts = new Map<string, Promise<string>>();

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
  const callers = Array.from({ length: config.callers }, () =>
    (config.mode === 'token'
      ? peer.getToken().then(verdictOn)
      : peer.fetch(config.path).then((status) => `HTTP ${status}`)
    ).catch((error: unknown) => `threw ${describeError(error)}`),
  );
  const ends = await Promise.all(callers);
  const ms = performance.now() - begin;
  const outcomes: Record<string, number> = {};
  for (const end of ends) outcomes[end] = (outcomes[end] ?? 0) + 1;
  return { ms, outcomes };
}

/**
 * What the API says to a token, asked once per distinct token at the moment it is
 * first handed out (later, a short-lived token could have expired in the meantime).
 */
function verdictOn(token: string): Promise<string> {
  let verdict = verdicts.get(token);
  if (!verdict) {
    verdict = fetch(new URL(config.path, config.options.baseUrl), {
      headers: { authorization: `Bearer ${token}` },
    }).then(async (response) => {
      await response.arrayBuffer();
      return response.ok ? 'token accepted' : `token refused (HTTP ${response.status})`;
    });
    verdicts.set(token, verdict);
  }
  return verdict;
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
