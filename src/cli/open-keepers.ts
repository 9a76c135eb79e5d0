/**
 * The keepers a command has open, so a signal can close them before the process exits:
 * a refresh the provider already answered is saved first (keeper.close() waits for it,
 * bounded), or its rotated refresh token would be lost. No imports: command-line.ts loads this
 * at start-up.
 */
const open = new Map<{ close(): Promise<void> }, string | undefined>();

/** `onStop`: what a person sees when a signal stops the command (a daemon is not "cancelled"). */
export function trackOpenKeeper(keeper: { close(): Promise<void> }, onStop?: string): () => void {
  open.set(keeper, onStop);
  return () => open.delete(keeper);
}

/** What to print when a signal stops the command. */
export function stoppingMessage(): string {
  for (const message of open.values()) if (message) return message;
  return 'Cancelled.';
}

/** Closes every open keeper; each waits for a refresh under way to save its result. */
export async function closeOpenKeepers(): Promise<void> {
  await Promise.allSettled([...open.keys()].map((keeper) => keeper.close()));
}
