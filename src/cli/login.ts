import type { ConnectionInfo } from '../connection.js';
import { isTokenkeeperError } from '../errors.js';
import { GRANT_TYPES, isGrantType } from '../grants/strategies.js';
import type { ClientAuthMethod, GrantType } from '../grants/types.js';
import type { ConnectionSpec, Keeper } from '../keeper.js';
import type { ProviderProfile } from '../providers/types.js';
import { shellWord } from '../shell-word.js';
import { parseCommandArgs, requirePositionals, UsageError } from './args.js';
import { authorizeInBrowser } from './browser-login.js';
import { gatherCredentials } from './credentials.js';
import { ExitCode } from './exit-codes.js';
import { newLoginCommands, withReplacingLogin } from './hints.js';
import { withKeeper } from './open-keeper.js';
import { type CliIO, describeConnection, formatInstant, say } from './output.js';
import { canPrompt, confirm } from './prompt.js';

export const usage = `tokenkeeper login <name> --provider factus|factorial|oauth2 [options]
  --env NAME                 provider environment (factus: sandbox|production; factorial: production|demo)
  --base-url URL             the provider's API base URL instead (emulators, proxies)
  --grant GRANT              password | authorization_code | client_credentials | api_key (default: the provider's)
  --api-key                  same as --grant api_key
  --scope SCOPES             e.g. read,write (one connection per scope set)
  --redirect-uri URI         loopback (default http://127.0.0.1:8765/callback) or urn:ietf:wg:oauth:2.0:oob
  --no-browser               print the authorization URL without opening a browser
  --timeout SECONDS          how long to wait for the browser (default 300)
  generic OAuth 2.0 (--provider oauth2):
  --issuer URL               discover endpoints (RFC 8414 / OpenID Connect)
  --token-url URL, --authorize-url URL, --revocation-url URL   explicit endpoints
  --api-base-url URL         where \`request\` paths resolve (default: the issuer's origin)
  --client-auth basic|post|none
Secrets come from environment variables (FACTUS_*, FACTORIAL_CLIENT_ID/_SECRET/FACTORIAL_API_KEY,
TOKENKEEPER_CLIENT_ID/_SECRET/_USERNAME/_PASSWORD) or a hidden prompt, never from flags.
  --force                    replace a connection of another provider or grant (revokes it first), or
                             one whose saved secrets cannot be opened (wrong key, damaged)
Run \`tokenkeeper login <name>\` alone to log in again to a saved connection: it reuses the provider,
endpoints, client id and secret and user name, and asks only for the password or a new browser login.
A login that moves it elsewhere (--base-url, --env, --issuer, --token-url) asks for its secrets again.`;

const CLIENT_AUTH: Record<string, ClientAuthMethod> = {
  basic: 'client_secret_basic',
  post: 'client_secret_post',
  none: 'none',
};

export const options = {
  provider: { type: 'string' },
  env: { type: 'string' },
  'base-url': { type: 'string' },
  grant: { type: 'string' },
  'api-key': { type: 'boolean' },
  scope: { type: 'string' },
  'redirect-uri': { type: 'string' },
  'no-browser': { type: 'boolean' },
  timeout: { type: 'string' },
  issuer: { type: 'string' },
  'token-url': { type: 'string' },
  'authorize-url': { type: 'string' },
  'revocation-url': { type: 'string' },
  'api-base-url': { type: 'string' },
  'client-auth': { type: 'string' },
  force: { type: 'boolean' },
} as const;

export async function run(argv: string[], io: CliIO): Promise<number> {
  const parsed = parseCommandArgs(argv, options, usage, io);
  if (!parsed) return ExitCode.ok;
  const { values, positionals } = parsed;
  const [name] = requirePositionals(positionals, ['<name>'], usage) as [string];
  if (values.env && values['base-url']) throw new UsageError('Give --env or --base-url, not both.', usage);
  const timeoutSeconds = values.timeout === undefined ? 300 : Number(values.timeout);
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) {
    throw new UsageError('--timeout takes a number of seconds.', usage);
  }
  const clientAuth = values['client-auth'];
  if (clientAuth !== undefined && !(clientAuth in CLIENT_AUTH)) {
    throw new UsageError('--client-auth is basic, post or none.', usage);
  }

  return withKeeper(
    io,
    async (keeper) => {
      // A store whose key is lost can save no login: say what to do before asking for anything.
      await keeper.keyId();
      let previous = await existing(keeper, name);
      // A connection whose secrets cannot be opened is logged into afresh, as a new one: nothing
      // of it is reused but its provider, environment name and scope, none of which can send a
      // secret anywhere. It stays saved until the new login succeeds.
      const why = previous && (await whyUnusable(keeper, name));
      const broken = why ? previous : undefined;
      const unopenable =
        broken && why
          ? {
              ...why,
              message: withReplacingLogin(why.message, broken, keeper.profile(broken.provider)),
            }
          : undefined;
      if (broken) previous = undefined;
      const known = previous ?? broken;
      if (!known && !values.provider) {
        throw new UsageError(
          `Connection "${name}" does not exist yet; say which provider it is for:\n${newLoginCommands(name).join('\n')}`,
        );
      }
      const profile = keeper.profile(values.provider ?? known!.provider);
      const same = known?.provider === profile.id ? known : undefined;
      const grant = chooseGrant(profile, values.grant, values['api-key'], same?.grant);
      const environment =
        values.env ?? (values['base-url'] ? undefined : builtInEnvironment(broken, profile));
      if (broken && unopenable) {
        if (!environment && !values['base-url'] && !profile.endpointsFromConnection) {
          const force = values.force || canPrompt(io) ? '' : ' and add --force to replace it';
          const problem =
            unopenable.code === 'STORE_KEY'
              ? `The saved secrets of "${name}" cannot be opened, and its saved base URL is not trusted without them`
              : `The saved settings of "${name}" cannot be used, so its saved base URL is not reused`;
          throw new UsageError(
            `${problem}: say where to log in with --base-url URL (or --env NAME)${force}.${keepHint(name, broken, unopenable)}`,
            usage,
          );
        }
        // Nothing is lost until the new login succeeds, so this may ask before the credentials.
        await confirmReplaceUnopenable(io, broken, unopenable, Boolean(values.force));
      }
      // Gathered before anything is replaced: a missing variable must not cost the old connection.
      const replacing =
        previous !== undefined && (previous.provider !== profile.id || previous.grant !== grant);
      const relogin = previous && !replacing ? { movedFrom: movedFrom(values, previous) } : undefined;
      const credentials = await gatherCredentials(io, profile, grant, relogin);
      if (previous && replacing) {
        await confirmReplace(io, keeper, previous, profile, grant, Boolean(values.force));
        previous = undefined;
      }

      const spec: ConnectionSpec = {
        provider: profile.id,
        grant,
        ...(environment ? { environment } : {}),
        ...(values['base-url'] ? { baseUrl: values['base-url'] } : {}),
        ...(values.issuer ? { issuer: values.issuer } : {}),
        ...(values['token-url'] ? { tokenUrl: values['token-url'] } : {}),
        ...(values['authorize-url'] ? { authorizationUrl: values['authorize-url'] } : {}),
        ...(values['revocation-url'] ? { revocationUrl: values['revocation-url'] } : {}),
        ...(values['api-base-url'] ? { apiBaseUrl: values['api-base-url'] } : {}),
        ...(clientAuth ? { clientAuthMethod: CLIENT_AUTH[clientAuth] } : {}),
        ...credentials,
      };
      // A new login keeps the saved scope unless --scope says otherwise (connect reuses it).
      const savedScope = broken && same === broken ? broken.scope : undefined;
      const scope = normaliseScope(
        values.scope ?? (previous ? undefined : (savedScope ?? profile.defaultScope)),
        profile.scopeDelimiter,
      );
      if (scope) spec.scope = scope;

      const info = await keeper.connect(name, spec, {
        reuseSaved: previous !== undefined,
        // Nothing usable is saved under this name (a new one, one just replaced, or one whose
        // secrets cannot be opened): only this command, as given, starts the login over.
        ...(previous ? {} : { loginHint: loginCommandOf(name, profile.id, values) }),
        authorize: (prompt) =>
          authorizeInBrowser(io, prompt, {
            redirectUri: values['redirect-uri'] ?? previous?.redirectUri ?? profile.defaultRedirectUri ?? '',
            openBrowser: !values['no-browser'],
            timeoutMs: timeoutSeconds * 1000,
            ...(profile.clientRegistrationHint
              ? { clientRegistrationHint: profile.clientRegistrationHint }
              : {}),
          }),
      });
      say(io, `Logged in to ${describeConnection(info)} as connection "${name}" (${describeGrant(info)}).`);
      if (broken && unopenable) {
        say(
          io,
          unopenable.code === 'STORE_KEY'
            ? 'Replaced the connection whose secrets could not be opened; its old tokens were not revoked (they could not be read).'
            : 'Replaced the connection whose settings could not be used; its old tokens were not revoked (nothing is sent where those settings say).',
        );
      }
      if (info.expiresAt === null) say(io, 'The credential does not expire.');
      else
        say(
          io,
          `Access token valid until ${formatInstant(info.expiresAt)}; tokenkeeper refreshes it before then.`,
        );
      return ExitCode.ok;
    },
    { creates: true },
  );
}

/**
 * A login under a name that holds a connection of another provider or grant replaces it
 * only when the person says so: --force, or yes on a terminal. Its tokens are revoked first.
 */
async function confirmReplace(
  io: CliIO,
  keeper: Keeper,
  previous: ConnectionInfo,
  profile: ProviderProfile,
  grant: GrantType,
  force: boolean,
): Promise<void> {
  const name = previous.name;
  const what = `a ${keeper.profile(previous.provider).displayName} connection (${previous.grant.replace(/_/g, ' ')})`;
  const instead = `${profile.displayName} (${grant.replace(/_/g, ' ')})`;
  if (!force) {
    if (!canPrompt(io)) {
      throw new UsageError(
        `"${name}" is already ${what}; it was kept. To log in to ${instead}, use another name, or add --force ` +
          `to replace it (its tokens are revoked first). To log in to it again: tokenkeeper login ${name}`,
      );
    }
    if (!(await confirm(io, `"${name}" is ${what}. Revoke it and replace it with ${instead}?`))) {
      throw new UsageError(`Kept "${name}". To log in to it again: tokenkeeper login ${name}`);
    }
  }
  try {
    await keeper.logout(name);
    say(io, `Replaced "${name}": its tokens were revoked where the provider allows it.`);
  } catch (error) {
    await keeper.forget(name);
    const reason = isTokenkeeperError(error) ? ` (${error.message})` : '';
    say(io, `Replaced "${name}", but its tokens could not be revoked at the provider${reason}.`);
  }
}

/**
 * Replacing a connection whose secrets cannot be opened loses them for good, so the person
 * says so: --force, or yes on a terminal. Without either the connection is kept, and the
 * message says both ways out: the key it was sealed with, or --force.
 */
async function confirmReplaceUnopenable(
  io: CliIO,
  broken: ConnectionInfo,
  why: Unusable,
  force: boolean,
): Promise<void> {
  if (force) return;
  const name = broken.name;
  const problem =
    why.code === 'STORE_KEY'
      ? `The saved secrets of "${name}" cannot be opened:\n  ${why.message}`
      : `The saved settings of "${name}" cannot be used:\n  ${why.message}`;
  if (!canPrompt(io)) {
    throw new UsageError(
      `${problem}\n"${name}" was kept. To replace it with a new login, run the same command with --force ` +
        `(its old tokens cannot be revoked).${keepHint(name, broken, why)}`,
    );
  }
  say(io, problem);
  if (!(await confirm(io, `Replace "${name}" with a new login? Its old tokens cannot be revoked.`))) {
    throw new UsageError(`Kept "${name}".${keepHint(name, broken, why)}`);
  }
}

/** How to keep an unopenable connection instead: the key its header names. Settings that cannot be used have no such way. */
function keepHint(name: string, broken: ConnectionInfo, why: Unusable): string {
  if (why.code !== 'STORE_KEY') return '';
  const key = broken.keyId ? ` (key id ${broken.keyId})` : '';
  return ` To keep "${name}", set TOKENKEEPER_KEY, or add to TOKENKEEPER_PREVIOUS_KEYS, the key it was sealed with${key}.`;
}

/** A saved connection that only a new login can fix: its secrets do not open, or its settings are refused. */
interface Unusable {
  code: 'STORE_KEY' | 'STORE_TAMPERED';
  message: string;
}

async function whyUnusable(keeper: Keeper, name: string): Promise<Unusable | undefined> {
  try {
    await keeper.details(name);
    return undefined;
  } catch (error) {
    if (isTokenkeeperError(error) && (error.code === 'STORE_KEY' || error.code === 'STORE_TAMPERED')) {
      return { code: error.code, message: error.message };
    }
    throw error;
  }
}

/** The saved environment, when it names one of the profile's own (its URLs come from the profile). */
function builtInEnvironment(
  broken: ConnectionInfo | undefined,
  profile: ProviderProfile,
): string | undefined {
  const saved = broken?.provider === profile.id ? broken.environment : undefined;
  return saved !== undefined && Object.hasOwn(profile.environments, saved) ? saved : undefined;
}

function chooseGrant(
  profile: ProviderProfile,
  flag: string | undefined,
  apiKey: boolean | undefined,
  previous: GrantType | undefined,
): GrantType {
  if (flag && apiKey && flag !== 'api_key')
    throw new UsageError('--api-key and --grant disagree; give one.', usage);
  const grant = flag ?? (apiKey ? 'api_key' : undefined) ?? previous ?? profile.defaultGrant;
  if (!isGrantType(grant)) {
    throw new UsageError(`Unknown grant "${grant}"; use one of ${GRANT_TYPES.join(', ')}.`, usage);
  }
  if (!profile.grants.includes(grant)) {
    throw new UsageError(
      `${profile.displayName} does not support the ${grant} grant; use ${profile.grants.join(' or ')}.`,
    );
  }
  return grant;
}

/** "read,write", "read write" and "read+write" all mean the same scope set. */
export function normaliseScope(scope: string | undefined, delimiter: string): string | undefined {
  if (!scope) return undefined;
  const parts = scope.split(/[\s,+]+/).filter(Boolean);
  return parts.length > 0 ? parts.join(delimiter) : undefined;
}

/** This login as a command to run again: the flags given, and always the provider. */
function loginCommandOf(
  name: string,
  provider: string,
  values: Partial<Record<keyof typeof options, string | boolean>>,
): string {
  const words = ['tokenkeeper', 'login', name, '--provider', provider];
  for (const flag of Object.keys(options) as Array<keyof typeof options>) {
    const value = values[flag];
    if (flag === 'provider' || value === undefined || value === false) continue;
    words.push(`--${flag}`, ...(value === true ? [] : [value]));
  }
  return words.map(shellWord).join(' ');
}

function describeGrant(info: ConnectionInfo): string {
  const grant = info.grant.replace(/_/g, ' ');
  return info.scope ? `${grant}, scope "${info.scope}"` : grant;
}

/**
 * The saved connection's origin when this login names other endpoints than it had: its
 * saved client secret and password are then asked again, not sent to the new place (connect
 * refuses that too). A --token-url cannot be compared (the saved one is not shown), so it
 * always counts as a move.
 */
function movedFrom(
  values: { env?: string; 'base-url'?: string; issuer?: string; 'token-url'?: string },
  previous: ConnectionInfo,
): string | undefined {
  const saved = originOf(previous.baseUrl);
  const moves =
    (values.env !== undefined && values.env !== previous.environment) ||
    (values['base-url'] !== undefined && originOf(values['base-url']) !== saved) ||
    (values.issuer !== undefined && values.issuer !== previous.issuer) ||
    values['token-url'] !== undefined;
  return moves ? (previous.issuer ?? saved) : undefined;
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}

async function existing(keeper: Keeper, name: string): Promise<ConnectionInfo | undefined> {
  try {
    return await keeper.info(name);
  } catch (error) {
    if (isTokenkeeperError(error) && error.code === 'NOT_FOUND') return undefined;
    throw error;
  }
}
