/**
 * What `exec` and `env` hand to another program: the access token, and the whole
 * header line it goes in, so a script needs to know neither the grant nor the header.
 */
import type { Keeper } from '../keeper.js';
import { headerLine } from './output.js';

export async function credentialVariables(keeper: Keeper, name: string): Promise<Record<string, string>> {
  const credential = await keeper.credential(name);
  return {
    TOKENKEEPER_ACCESS_TOKEN: credential.accessToken,
    TOKENKEEPER_AUTH_HEADER: headerLine(credential.header).line,
  };
}
