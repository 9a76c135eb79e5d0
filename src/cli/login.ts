import type { ConnectionInfo } from '../connection.js';
import { isTokenkeeperError } from '../errors.js';
import { GRANT_TYPES, isGrantType } from '../grants/strategies.js';
import type { ClientAuthMethod, GrantType } from '../grants/types.js';
import type { ConnectionSpec, Keeper } from '../keeper.js';
import type { ProviderProfile } from '../providers/types.js';
import { parseCommandArgs, requirePositionals, UsageError } from './args.js';
import { authorizeInBrowser } from './browser-login.js';
import { gatherCredentials } from './credentials.js';
import { ExitCode } from './exit-codes.js';
import { withKeeper } from './open-keeper.js';
import { type CliIO, describeConnection, formatInstant, say } from './output.js';

const usage = `tokenkeeper login <name> --provider factus|factorial|oauth2 [options]
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
TOKENKEEPER_CLIENT_ID/_SECRET) or a hidden prompt, never from flags.
Run it again for an existing connection to log in anew with the same settings.`;

const CLIENT_AUTH: Record<string, ClientAuthMethod> = {
  basic: 'client_secret_basic',
  post: 'client_secret_post',
  none: 'none',
};

export async function run(argv: string[], io: CliIO): Promise<number> {
  const parsed = parseCommandArgs(
    argv,
    {
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
    },
    usage,
    io,
  );
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

  return withKeeper(io, async (keeper) => {
    const previous = await existing(keeper, name);
    const providerId = values.provider ?? previous?.provider;
    if (!providerId)
      throw new UsageError(`Connection "${name}" does not exist yet: say which --provider.`, usage);
    const profile = keeper.profile(providerId);
    const same = previous?.provider === profile.id ? previous : undefined;
    const grant = chooseGrant(profile, values.grant, values['api-key'], same?.grant);

    const where: ConnectionSpec = {
      provider: profile.id,
      ...whereFrom(values, same, profile),
      ...(values.issuer ? { issuer: values.issuer } : same?.issuer ? { issuer: same.issuer } : {}),
      ...(values['token-url'] ? { tokenUrl: values['token-url'] } : {}),
      ...(values['authorize-url'] ? { authorizationUrl: values['authorize-url'] } : {}),
      ...(values['revocation-url'] ? { revocationUrl: values['revocation-url'] } : {}),
      ...(values['api-base-url'] ? { apiBaseUrl: values['api-base-url'] } : {}),
      ...(clientAuth ? { clientAuthMethod: CLIENT_AUTH[clientAuth] } : {}),
    };
    const scope = normaliseScope(values.scope ?? same?.scope ?? profile.defaultScope, profile.scopeDelimiter);
    const credentials = await gatherCredentials(io, profile, grant, same);
    const spec: ConnectionSpec = { ...where, grant, ...(scope ? { scope } : {}), ...credentials };

    const info = await keeper.connect(name, spec, {
      authorize: (prompt) =>
        authorizeInBrowser(io, prompt, {
          redirectUri: values['redirect-uri'] ?? same?.redirectUri ?? profile.defaultRedirectUri ?? '',
          openBrowser: !values['no-browser'],
          timeoutMs: timeoutSeconds * 1000,
          ...(profile.clientRegistrationHint
            ? { clientRegistrationHint: profile.clientRegistrationHint }
            : {}),
        }),
    });
    say(io, `Logged in to ${describeConnection(info)} as connection "${name}" (${describeGrant(info)}).`);
    if (info.expiresAt === null) say(io, 'The credential does not expire.');
    else
      say(
        io,
        `Access token valid until ${formatInstant(info.expiresAt)}; tokenkeeper refreshes it before then.`,
      );
    return ExitCode.ok;
  });
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

function whereFrom(
  values: { env?: string | undefined; 'base-url'?: string | undefined },
  previous: ConnectionInfo | undefined,
  profile: ProviderProfile,
): Pick<ConnectionSpec, 'environment' | 'baseUrl'> {
  if (values.env) return { environment: values.env };
  if (values['base-url']) return { baseUrl: values['base-url'] };
  // Discovered endpoints are found again from the issuer, not pinned to the old base URL.
  if (!previous || profile.endpointsFromConnection) return {};
  return previous.environment ? { environment: previous.environment } : { baseUrl: previous.baseUrl };
}

/** "read,write", "read write" and "read+write" all mean the same scope set. */
export function normaliseScope(scope: string | undefined, delimiter: string): string | undefined {
  if (!scope) return undefined;
  const parts = scope.split(/[\s,+]+/).filter(Boolean);
  return parts.length > 0 ? parts.join(delimiter) : undefined;
}

function describeGrant(info: ConnectionInfo): string {
  const grant = info.grant.replace(/_/g, ' ');
  return info.scope ? `${grant}, scope "${info.scope}"` : grant;
}

async function existing(keeper: Keeper, name: string): Promise<ConnectionInfo | undefined> {
  try {
    return await keeper.info(name);
  } catch (error) {
    if (isTokenkeeperError(error) && error.code === 'NOT_FOUND') return undefined;
    throw error;
  }
}
