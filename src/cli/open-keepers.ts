/**
 * The keepers a command has open, so a signal can close them before the process exits:
 * a refresh the provider already answered is saved first (keeper.close() waits for it,
 * bounded), or its rotated refresh token would be lost. No imports: main.ts loads this
 * at start-up.
 */
const open = new Set<{ close(): Promise<void> }>();

export function trackOpenKeeper(keeper: { close(): Promise<void> }): () => void {
  open.add(keeper);
  return () => open.delete(keeper);
}

/** Closes every open keeper; each waits for a refresh under way to save its result. */
export async function closeOpenKeepers(): Promise<void> {
  await Promise.allSettled([...open].map((keeper) => keeper.close()));
}
