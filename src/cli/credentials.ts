/**
 * Where the CLI finds credentials: the provider's own environment variables,
 * then the generic TOKENKEEPER_CLIENT_ID / TOKENKEEPER_CLIENT_SECRET, then what
 * the connection already had (non-secret fields only), then a hidden prompt.
 * Never a flag: flags end up in shell history and process listings.
 */

import { type CredentialField, grantStrategy } from '../grants/strategies.js';
import type { ConnectionSpec } from '../keeper.js';
import type { CredentialEnvNames, GrantType, ProviderProfile } from '../providers/types.js';
import { UsageError } from './args.js';
import type { CliIO } from './output.js';
import { ask, canPrompt } from './prompt.js';

export type Credentials = Pick<
  ConnectionSpec,
  'clientId' | 'clientSecret' | 'username' | 'password' | 'apiKey'
>;
type Field = CredentialField;

const genericEnv: CredentialEnvNames = {
  clientId: 'TOKENKEEPER_CLIENT_ID',
  clientSecret: 'TOKENKEEPER_CLIENT_SECRET',
};

const prompts: Record<Field, { label: string; hidden: boolean }> = {
  clientId: { label: 'Client id', hidden: false },
  clientSecret: { label: 'Client secret', hidden: true },
  username: { label: 'User (e-mail)', hidden: false },
  password: { label: 'Password', hidden: true },
  apiKey: { label: 'API key', hidden: true },
};

export async function gatherCredentials(
  io: CliIO,
  profile: ProviderProfile,
  grant: GrantType,
  previous: { clientId?: string } | undefined,
): Promise<Credentials> {
  const result: Credentials = {};
  for (const { field, emptyForPublicClient } of grantStrategy(grant).fields) {
    const optional = Boolean(emptyForPublicClient && profile.allowsPublicClients);
    const envNames = [profile.credentialEnv[field], genericEnv[field]].filter((name): name is string =>
      Boolean(name),
    );
    const fromEnv = envNames.map((name) => io.env[name]).find(Boolean);
    if (fromEnv) {
      result[field] = fromEnv;
      continue;
    }
    if (field === 'clientId' && previous?.clientId) {
      result[field] = previous.clientId;
      continue;
    }
    const { label, hidden } = prompts[field];
    if (!canPrompt(io)) {
      if (optional) continue;
      throw new UsageError(
        `No ${label.toLowerCase()} for ${profile.displayName}: set ${envNames.join(' or ')} (there is no terminal to ask on).`,
      );
    }
    const answer = await ask(io, `${profile.displayName} ${label}${optional ? ' (empty for none)' : ''}: `, {
      hidden,
    });
    if (answer) result[field] = answer;
    else if (!optional) throw new UsageError(`${label} cannot be empty.`);
  }
  return result;
}
