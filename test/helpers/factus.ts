/** A Factus emulator and a keeper wired to it, sharing one fake clock so tests drive expiry. */
import { FakeClock } from '../../src/clock.js';
import {
  type FactusEmulatorOptions,
  type FactusRunningEmulator,
  startFactusEmulator,
} from '../../src/emulators/factus/factus-emulator.js';
import { type ConnectionSpec, createKeeper, type Keeper, type KeeperOptions } from '../../src/keeper.js';
import { MemoryTokenStore } from '../../src/store/memory-store.js';

export interface FactusRig {
  clock: FakeClock;
  emulator: FactusRunningEmulator;
  keeper: Keeper;
  spec: ConnectionSpec;
  close(): Promise<void>;
}

export function factusSpec(emulator: FactusRunningEmulator): ConnectionSpec {
  const { clientId, clientSecret, username, password } = emulator.credentials;
  return { provider: 'factus', baseUrl: emulator.url, clientId, clientSecret, username, password };
}

export async function startFactusRig(
  options: { emulator?: FactusEmulatorOptions; keeper?: KeeperOptions; clock?: FakeClock } = {},
): Promise<FactusRig> {
  const clock = options.clock ?? new FakeClock(Date.now());
  const emulator = await startFactusEmulator({ now: () => clock.now(), ...options.emulator });
  const keeper = createKeeper({ store: new MemoryTokenStore(), clock, ...options.keeper });
  return {
    clock,
    emulator,
    keeper,
    spec: factusSpec(emulator),
    async close() {
      await keeper.close();
      await emulator.stop();
    },
  };
}

/** The status the Factus emulator's API answers a request with this access token. */
export async function apiStatus(emulator: { url: string }, token: string): Promise<number> {
  const response = await fetch(`${emulator.url}/v1/numbering-ranges`, {
    headers: { authorization: `Bearer ${token}` },
  });
  await response.arrayBuffer();
  return response.status;
}

/** Collects a keeper's events by name. */
export function recordEvents(keeper: Keeper) {
  const seen: Array<{ event: string; payload: Record<string, unknown> }> = [];
  for (const event of ['token', 'refresh', 'adopt', 'refresh_failed', 'reauth_required'] as const) {
    keeper.on(event, (payload) =>
      seen.push({ event, payload: payload as unknown as Record<string, unknown> }),
    );
  }
  return {
    seen,
    names: () => seen.map((e) => e.event),
    count: (event: string) => seen.filter((e) => e.event === event).length,
  };
}
