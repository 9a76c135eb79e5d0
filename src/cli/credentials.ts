/**
 * Where the CLI finds credentials: the provider's own environment variables,
 * then the generic TOKENKEEPER_CLIENT_ID / _CLIENT_SECRET / _USERNAME / _PASSWORD, then (for a
 * new login of a saved connection) what the store kept, then a hidden prompt.
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

/** For any provider whose own variables are unset; the only ones of a generic OAuth 2.0 server. */
const genericEnv: CredentialEnvNames = {
  clientId: 'TOKENKEEPER_CLIENT_ID',
  clientSecret: 'TOKENKEEPER_CLIENT_SECRET',
  username: 'TOKENKEEPER_USERNAME',
  password: 'TOKENKEEPER_PASSWORD',
};

const prompts: Record<Field, { label: string; hidden: boolean }> = {
  clientId: { label: 'Client id', hidden: false },
  clientSecret: { label: 'Client secret', hidden: true },
  username: { label: 'User (e-mail)', hidden: false },
  password: { label: 'Password', hidden: true },
  apiKey: { label: 'API key', hidden: true },
};

/**
 * Which fields a new login of a saved connection (same provider and grant) takes from
 * the store when the environment does not give them: `connect` fills them in
 * (`reuseSaved`). The password is asked again on a terminal, since a new login usually
 * means it changed; without a terminal the saved one is tried.
 */
const REUSED: ReadonlySet<Field> = new Set(['clientId', 'clientSecret', 'username']);

/** The saved fields that go only where they were first sent (connect refuses to move them). */
const SECRETS: ReadonlySet<Field> = new Set(['clientSecret', 'password']);

/** A new login of a saved connection; `movedFrom`: it now goes elsewhere than it did (an origin). */
export interface Relogin {
  movedFrom?: string;
}

/**
 * The credentials of `grant`, from the environment or the terminal. Without a terminal,
 * every missing variable is named in one message, so one run tells all.
 */
export async function gatherCredentials(
  io: CliIO,
  profile: ProviderProfile,
  grant: GrantType,
  relogin: Relogin | undefined,
): Promise<Credentials> {
  const result: Credentials = {};
  const toAsk: Array<{ field: Field; optional: boolean }> = [];
  const missing: string[] = [];
  const terminal = canPrompt(io);
  for (const { field, emptyForPublicClient } of grantStrategy(grant).fields) {
    const optional = Boolean(emptyForPublicClient && profile.allowsPublicClients);
    const envNames = envNamesOf(profile, field);
    const fromEnv = envNames.map((name) => io.env[name]).find(Boolean);
    if (fromEnv) {
      result[field] = fromEnv;
      continue;
    }
    const reusable = relogin && !(relogin.movedFrom && SECRETS.has(field));
    if (reusable && (REUSED.has(field) || (field === 'password' && !terminal))) continue;
    if (terminal) toAsk.push({ field, optional });
    else if (!optional) {
      const [first, ...others] = envNames;
      const what = prompts[field].label.toLowerCase();
      missing.push(
        first === undefined
          ? `  ${what}: no variable holds it; run the login on a terminal`
          : `  ${first}${others.length > 0 ? ` (or ${others.join(', ')})` : ''}: ${what}`,
      );
    }
  }
  if (missing.length > 0) {
    const moved = relogin?.movedFrom
      ? `The saved secrets were given for ${relogin.movedFrom} and are not sent elsewhere. `
      : '';
    throw new UsageError(
      `${moved}Missing credentials for ${profile.displayName}, and there is no terminal to ask for them. ` +
        `Set these variables and run the command again:\n${missing.join('\n')}`,
    );
  }
  for (const { field, optional } of toAsk) {
    const { label, hidden } = prompts[field];
    const answer = await ask(io, `${profile.displayName} ${label}${optional ? ' (empty for none)' : ''}: `, {
      hidden,
    });
    if (answer) result[field] = answer;
    else if (!optional) throw new UsageError(`${label} cannot be empty.`);
  }
  return result;
}

function envNamesOf(profile: ProviderProfile, field: Field): string[] {
  return [profile.credentialEnv[field], genericEnv[field]].filter((name): name is string => Boolean(name));
}
