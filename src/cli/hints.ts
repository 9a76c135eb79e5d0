/** Commands that messages suggest, built from the provider profiles so they work as written. */
import type { ConnectionInfo } from '../connection.js';
import type { Keeper } from '../keeper.js';
import { ProviderRegistry } from '../providers/registry.js';
import type { ProviderProfile } from '../providers/types.js';
import { shellWord } from '../shell-word.js';

/** One `tokenkeeper login NAME --provider …` line per built-in provider, indented for a message. */
export function newLoginCommands(name: string): string[] {
  const registry = new ProviderRegistry();
  return registry.ids().map((id) => {
    // A generic OAuth 2.0 server has no built-in endpoints: the command must say where it is.
    const where = registry.get(id).endpointsFromConnection ? ' --issuer https://…' : '';
    return `  tokenkeeper login ${name} --provider ${id}${where}`;
  });
}

/**
 * The login that replaces a connection whose secrets cannot be opened, as `login` takes it:
 * with --force, since without a terminal nothing else replaces it, and with where to log in
 * unless that is one of the provider's own environments (a saved base URL or issuer sits in
 * clear, and is not trusted without the sealed copy).
 */
function replacingLoginCommand(
  info: Pick<ConnectionInfo, 'name' | 'environment' | 'issuer' | 'grant'>,
  profile: ProviderProfile,
): string {
  return `tokenkeeper login ${shellWord(info.name)}${whereToLogIn(info, profile)} --force`;
}

function whereToLogIn(
  info: Pick<ConnectionInfo, 'environment' | 'issuer' | 'grant'>,
  profile: ProviderProfile,
): string {
  if (info.environment !== undefined && Object.hasOwn(profile.environments, info.environment)) return '';
  if (!profile.endpointsFromConnection) return ' --base-url https://…';
  // A generic server: found by discovery, or by the endpoints it was given.
  if (info.issuer) return ' --issuer https://…';
  return ` --token-url https://…${info.grant === 'authorization_code' ? ' --authorize-url https://…' : ''}`;
}

type ReplacedConnection = Pick<ConnectionInfo, 'name' | 'environment' | 'issuer' | 'grant'>;

/**
 * A message about a connection whose secrets cannot be opened names `tokenkeeper login NAME`
 * (the library's words), which refuses such a connection: name the command that replaces it.
 */
export function withReplacingLogin(
  message: string,
  info: ReplacedConnection,
  profile: ProviderProfile,
): string {
  const command = replacingLoginCommand(info, profile);
  return message.split(`\`tokenkeeper login ${info.name}\``).join(`\`${command}\``);
}

/** withReplacingLogin for a connection of the store; the message as it is when its metadata cannot be read. */
export async function withReplacingLoginOf(keeper: Keeper, name: string, message: string): Promise<string> {
  // Its clear metadata needs no key.
  const info = await keeper.info(name).catch(() => undefined);
  return info ? withReplacingLogin(message, info, keeper.profile(info.provider)) : message;
}
