/**
 * What every adapter does the same way: which requests get the credential, and what to
 * send after a 401. The adapters only fit these two answers into each client's hooks.
 */
import type { Keeper, KeeperCredential } from '../keeper.js';

/**
 * The credential goes only to the connection's own API origin, as `keeper.fetch` does:
 * a client shared with other hosts must not hand them the token.
 */
export function sendsTo(credential: KeeperCredential, url: string | URL): boolean {
  try {
    return new URL(url).origin === credential.origin;
  } catch {
    return false;
  }
}

/**
 * The credential to retry with after `rejected` got a 401: one another caller already
 * renewed, else a newly refreshed one; undefined when it cannot be renewed (an API key),
 * and the 401 stands.
 */
export async function renewedAfterRejection(
  keeper: Keeper,
  name: string,
  rejected: KeeperCredential,
): Promise<KeeperCredential | undefined> {
  const current = await keeper.credential(name);
  if (current.accessToken !== rejected.accessToken) return current;
  if (!current.refreshable) return undefined;
  await keeper.refresh(name);
  return keeper.credential(name);
}
