import type { ConnectionInfo } from '../connection.js';
import { isTokenkeeperError } from '../errors.js';
import type { ConnectionSpec, Keeper } from '../keeper.js';
import { ProviderRegistry } from '../providers/registry.js';
import type { CredentialEnvNames, ProviderProfile } from '../providers/types.js';
import { parseCommandArgs, requirePositionals, UsageError } from './args.js';
import { ExitCode } from './exit-codes.js';
import { withKeeper } from './open-keeper.js';
import { type CliIO, describeConnection, formatInstant, say } from './output.js';
import { ask, canPrompt } from './prompt.js';

const usage =
  'tokenkeeper login <name> --provider factus [--env sandbox|production | --base-url URL]\n' +
  'Credentials come from the provider’s environment variables (e.g. FACTUS_CLIENT_ID, FACTUS_CLIENT_SECRET,\n' +
  'FACTUS_USERNAME, FACTUS_PASSWORD; TOKENKEEPER_CLIENT_ID / TOKENKEEPER_CLIENT_SECRET also work),\n' +
  'else you are asked on the terminal. Secrets are never taken from flags.\n' +
  'Run it again for an existing connection to log in anew with the same provider and environment.';

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    {
      provider: { type: 'string' },
      env: { type: 'string' },
      'base-url': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    usage,
  );
  if (values.help) {
    io.stdout.write(`Usage: ${usage}\n`);
    return ExitCode.ok;
  }
  const [name] = requirePositionals(positionals, ['<name>'], usage) as [string];
  if (values.env && values['base-url']) throw new UsageError('Give --env or --base-url, not both.', usage);

  return withKeeper(io, async (keeper) => {
    const previous = await existing(keeper, name);
    const providerId = values.provider ?? previous?.provider;
    if (!providerId)
      throw new UsageError(`Connection "${name}" does not exist yet: say which --provider.`, usage);
    const profile = new ProviderRegistry().get(providerId);
    const sameProvider = previous?.provider === profile.id;
    const where =
      values.env || values['base-url']
        ? {
            ...(values.env ? { environment: values.env } : {}),
            ...(values['base-url'] ? { baseUrl: values['base-url'] } : {}),
          }
        : sameProvider && previous
          ? previous.environment
            ? { environment: previous.environment }
            : { baseUrl: previous.baseUrl }
          : {};

    const credentials = await gatherCredentials(io, profile, sameProvider ? previous : undefined);
    const spec: ConnectionSpec = {
      provider: profile.id,
      ...where,
      grant: profile.defaultGrant,
      ...credentials,
    };
    const info = await keeper.connect(name, spec);
    say(io, `Logged in to ${describeConnection(info)} as connection "${name}".`);
    say(
      io,
      `Access token valid until ${formatInstant(info.expiresAt)}; tokenkeeper refreshes it before then.`,
    );
    return ExitCode.ok;
  });
}

async function existing(keeper: Keeper, name: string): Promise<ConnectionInfo | undefined> {
  try {
    return await keeper.info(name);
  } catch (error) {
    if (isTokenkeeperError(error) && error.code === 'NOT_FOUND') return undefined;
    throw error;
  }
}

type Credentials = Pick<ConnectionSpec, 'clientId' | 'clientSecret' | 'username' | 'password'>;

const genericEnv: CredentialEnvNames = {
  clientId: 'TOKENKEEPER_CLIENT_ID',
  clientSecret: 'TOKENKEEPER_CLIENT_SECRET',
};

const fieldPrompts: Record<keyof Credentials, { label: string; hidden: boolean }> = {
  clientId: { label: 'Client id', hidden: false },
  clientSecret: { label: 'Client secret', hidden: true },
  username: { label: 'User (e-mail)', hidden: false },
  password: { label: 'Password', hidden: true },
};

/** Each credential from the provider's variable, the generic one, a default, or the terminal, in that order. */
async function gatherCredentials(
  io: CliIO,
  profile: ProviderProfile,
  previous: ConnectionInfo | undefined,
): Promise<Credentials> {
  const needed: Array<keyof Credentials> =
    profile.defaultGrant === 'password'
      ? ['clientId', 'clientSecret', 'username', 'password']
      : ['clientId', 'clientSecret'];
  const result: Credentials = {};
  for (const field of needed) {
    const envName = profile.credentialEnv[field];
    const fromEnv = (envName && io.env[envName]) || (genericEnv[field] && io.env[genericEnv[field]]);
    if (fromEnv) {
      result[field] = fromEnv;
      continue;
    }
    if (field === 'clientId' && previous?.clientId) {
      result[field] = previous.clientId;
      continue;
    }
    if (!canPrompt(io)) {
      const names = [envName, genericEnv[field]].filter(Boolean).join(' or ');
      throw new UsageError(
        `No ${fieldPrompts[field].label.toLowerCase()} for ${profile.displayName}: set ${names} (there is no terminal to ask on).`,
      );
    }
    const { label, hidden } = fieldPrompts[field];
    const answer = await ask(io, `${profile.displayName} ${label}: `, { hidden });
    if (!answer) throw new UsageError(`${label} cannot be empty.`);
    result[field] = answer;
  }
  return result;
}
