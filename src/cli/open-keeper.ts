import { createKeeper, type Keeper } from '../keeper.js';
import type { CliIO } from './output.js';

/** The CLI's keeper: one short-lived process, so no background refresh timers. */
export function openKeeper(io: CliIO): Keeper {
  return createKeeper({ proactiveRefresh: false, env: io.env });
}

export async function withKeeper<T>(io: CliIO, work: (keeper: Keeper) => Promise<T>): Promise<T> {
  const keeper = openKeeper(io);
  try {
    return await work(keeper);
  } finally {
    await keeper.close();
  }
}
