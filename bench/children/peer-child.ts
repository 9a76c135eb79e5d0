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

/** A token or an HTTP status line, or the error the caller got instead. */
interface CallerEnd {
  value?: string;
  error?: string;
}

async function storm(): Promise<StormOutcome> {
  const begin = performance.now();
  // All callers start in the same tick: this is the moment the token has just expired.
  const callers = Array.from({ length: config.callers }, () =>
    (config.mode === 'token'
      ? peer.getToken()
      : peer.fetch(config.path).then((status) => `HTTP ${status}`)
    ).then(
      (value): CallerEnd => ({ value }),
      (error: unknown): CallerEnd => ({ error: `threw ${describeError(error)}` }),
    ),
  );
  const ends = await Promise.all(callers);
  const ms = performance.now() - begin;
  const verdicts = config.mode === 'token' ? await tryTokens(ends.map((end) => end.value)) : undefined;
  const outcomes: Record<string, number> = {};
  for (const end of ends) {
    const label = end.error ?? (verdicts ? verdicts.get(end.value) : end.value) ?? 'unknown';
    outcomes[label] = (outcomes[label] ?? 0) + 1;
  }
  return { ms, outcomes };
}

/** What the API says to each distinct token the callers got: one request per token. */
async function tryTokens(tokens: Array<string | undefined>): Promise<Map<string | undefined, string>> {
  const verdicts = new Map<string | undefined, string>();
  for (const token of new Set(tokens)) {
    if (token === undefined) continue;
    const response = await fetch(new URL(config.path, config.options.baseUrl), {
      headers: { authorization: `Bearer ${token}` },
    });
    await response.arrayBuffer();
    verdicts.set(token, response.ok ? 'token accepted' : `token refused (HTTP ${response.status})`);
  }
  return verdicts;
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
