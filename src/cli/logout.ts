import { isTokenkeeperError } from '../errors.js';
import { parseCommandArgs, requirePositionals } from './args.js';
import { ExitCode } from './exit-codes.js';
import { withKeeper } from './open-keeper.js';
import { type CliIO, say } from './output.js';

export const usage =
  'tokenkeeper logout <name> [--local-only]\nRevokes the tokens at the provider when it supports revocation (RFC 7009), then forgets the\n' +
  'connection on this machine. --local-only forgets it without telling the provider.\n' +
  'The name is never guessed here: forgetting the wrong connection cannot be undone.';

export const options = { 'local-only': { type: 'boolean' } } as const;

export async function run(argv: string[], io: CliIO): Promise<number> {
  const parsed = parseCommandArgs(argv, options, usage, io);
  if (!parsed) return ExitCode.ok;
  const { values, positionals } = parsed;
  const [name] = requirePositionals(positionals, ['<name>'], usage) as [string];
  return withKeeper(io, async (keeper) => {
    if (values['local-only']) {
      await keeper.info(name); // says clearly when there is no such connection
      await keeper.forget(name);
      say(io, `Forgot "${name}" on this machine; its tokens were not revoked at the provider.`);
      return ExitCode.ok;
    }
    try {
      const { revoked } = await keeper.logout(name);
      say(
        io,
        revoked
          ? `Logged out of "${name}": the provider revoked its tokens, and they were removed from this machine.`
          : `Logged out of "${name}": removed from this machine (the provider offers no token revocation).`,
      );
      return ExitCode.ok;
    } catch (error) {
      // Only a connection that exists can have been kept.
      if (!(isTokenkeeperError(error) && error.code === 'NOT_FOUND')) {
        say(
          io,
          `The connection "${name}" was kept. To forget it anyway: tokenkeeper logout ${name} --local-only`,
        );
      }
      throw error;
    }
  });
}
