/**
 * A daemon in this process on a memory store, beside a plain keeper on the same store
 * (what the CLI does from another process), and emulators sharing one fake clock: tests
 * move token time by hand and never wait for expiry.
 */
import assert from 'node:assert/strict';
import { FakeClock } from '../../src/clock.js';
import {
  type FactorialEmulatorOptions,
  type FactorialRunningEmulator,
  startFactorialEmulator,
} from '../../src/emulators/factorial/factorial-emulator.js';
import {
  type FactusEmulatorOptions,
  type FactusRunningEmulator,
  startFactusEmulator,
} from '../../src/emulators/factus/factus-emulator.js';
import {
  createAuthorizationRequest,
  readAuthorizationResponse,
} from '../../src/grants/authorization-code.js';
import { createKeeper, type Keeper } from '../../src/keeper.js';
import { type Daemon, type DaemonOptions, startDaemon } from '../../src/serve/daemon.js';
import { generateEncryptionKey } from '../../src/store/encryption.js';
import { MemoryTokenStore } from '../../src/store/memory-store.js';
import { openStore } from '../../src/store/open-store.js';
import type { TokenStore } from '../../src/store/types.js';

export const SECRET = 'serve-test-secret-0123456789abcdef';
const REDIRECT = 'http://127.0.0.1:8765/callback';

export interface ServeRig {
  clock: FakeClock;
  store: TokenStore;
  key: Buffer;
  /** Another process on the same store, as the CLI would be. */
  cli: Keeper;
  daemon: Daemon;
  factorial: FactorialRunningEmulator;
  factus: FactusRunningEmulator;
  /** A request to the daemon with the access secret. */
  call(path: string, init?: RequestInit): Promise<Response>;
  /** Moves token time in steps, letting the daemon finish what comes due after each. */
  advance(totalMs: number, stepMs: number): Promise<void>;
  close(): Promise<void>;
}

export interface ServeRigOptions {
  factorial?: FactorialEmulatorOptions;
  factus?: FactusEmulatorOptions;
  daemon?: Omit<DaemonOptions, 'store' | 'encryptionKey' | 'clock'>;
  store?: TokenStore;
  /** The CLI's own connection to the daemon's store, as another process has (default: the same store). */
  cliStore?: TokenStore;
  /**
   * Where the store lives (as --store or TOKENKEEPER_STORE say it), for the daemon and the CLI
   * to open each on its own, as two processes do; the rig's `store` is a third handle on it.
   */
  location?: string;
  env?: NodeJS.ProcessEnv;
}

export async function startServeRig(options: ServeRigOptions = {}): Promise<ServeRig> {
  const clock = new FakeClock(Date.now());
  const now = () => clock.now();
  const factorial = await startFactorialEmulator({ now, ...options.factorial });
  const factus = await startFactusEmulator({ now, ...options.factus });
  const key = generateEncryptionKey();
  const keyEnv = { TOKENKEEPER_KEY: key.toString('base64') };
  const { location } = options;
  const store =
    options.store ?? (location ? (await openStore(location, { env: keyEnv })).store : new MemoryTokenStore());
  const cli = createKeeper({
    ...(location
      ? { store: location, env: keyEnv }
      : { store: options.cliStore ?? store, encryptionKey: key, env: {} }),
    clock,
    proactiveRefresh: false,
  });
  let daemon: Daemon;
  try {
    daemon = await startDaemon({
      ...(location ? { store: location } : { store, encryptionKey: key }),
      clock,
      env: { TOKENKEEPER_SERVE_SECRET: SECRET, ...(location ? keyEnv : {}), ...options.env },
      watchIntervalMs: 50,
      heartbeatMs: 200,
      ...options.daemon,
    });
  } catch (error) {
    await Promise.all([cli.close(), factorial.stop(), factus.stop()]);
    throw error;
  }
  return {
    clock,
    store,
    key,
    cli,
    daemon,
    factorial,
    factus,
    call: (path, init = {}) => {
      const headers = new Headers(init.headers);
      headers.set('authorization', `Bearer ${SECRET}`);
      return fetch(`${daemon.url}${path}`, { ...init, headers });
    },
    async advance(totalMs, stepMs) {
      for (let moved = 0; moved < totalMs; moved += stepMs) {
        await clock.advance(Math.min(stepMs, totalMs - moved));
        await daemon.keepAlive.whenIdle();
      }
    },
    async close() {
      await daemon.close();
      await cli.close();
      await factorial.stop();
      await factus.stop();
      if (!options.store) await store.close();
    },
  };
}

/** Logs a Factorial connection in through the (auto-approving) authorization endpoint. */
export async function connectFactorial(rig: ServeRig, name: string, keeper: Keeper = rig.cli): Promise<void> {
  const { factorial } = rig;
  const request = await createAuthorizationRequest({
    authorizationUrl: factorial.authorizeUrl,
    clientId: factorial.credentials.clientId,
    redirectUri: REDIRECT,
    scope: 'read write',
    pkce: false,
  });
  const response = await fetch(request.url, { redirect: 'manual' });
  const location = response.headers.get('location');
  assert.ok(location, `expected a redirect, got HTTP ${response.status}`);
  await keeper.connect(name, {
    provider: 'factorial',
    baseUrl: factorial.url,
    grant: 'authorization_code',
    clientId: factorial.credentials.clientId,
    clientSecret: factorial.credentials.clientSecret,
    scope: 'read write',
    authorizationCode: { code: readAuthorizationResponse(request, location), redirectUri: REDIRECT },
  });
}

export async function connectFactus(rig: ServeRig, name: string): Promise<void> {
  const { clientId, clientSecret, username, password } = rig.factus.credentials;
  await rig.cli.connect(name, {
    provider: 'factus',
    baseUrl: rig.factus.url,
    clientId,
    clientSecret,
    username,
    password,
  });
}

/** Waits (real time, bounded) until the daemon's view satisfies `check`. */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
