/** Commands that messages suggest, built from the provider profiles so they work as written. */
import { ProviderRegistry } from '../providers/registry.js';

/** One `tokenkeeper login NAME --provider …` line per built-in provider, indented for a message. */
export function newLoginCommands(name: string): string[] {
  const registry = new ProviderRegistry();
  return registry.ids().map((id) => {
    // A generic OAuth 2.0 server has no built-in endpoints: the command must say where it is.
    const where = registry.get(id).endpointsFromConnection ? ' --issuer https://…' : '';
    return `  tokenkeeper login ${name} --provider ${id}${where}`;
  });
}
