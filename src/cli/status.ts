import type { ConnectionInfo } from '../connection.js';
import { parseCommandArgs } from './args.js';
import { ExitCode } from './exit-codes.js';
import { withKeeper } from './open-keeper.js';
import { type CliIO, describeConnection, formatInstant } from './output.js';

const usage =
  'tokenkeeper status [<name>] [--json]\nShows each connection’s provider, environment, expiry, last refresh and state; never a secret.\n' +
  'Exits 3 when the named connection needs a new login.';

export async function run(argv: string[], io: CliIO): Promise<number> {
  const parsed = parseCommandArgs(argv, { json: { type: 'boolean' } }, usage, io);
  if (!parsed) return ExitCode.ok;
  const { values, positionals } = parsed;
  const [name] = positionals;
  const connections = await withKeeper(io, async (keeper) =>
    name ? [await keeper.info(name)] : keeper.list(),
  );

  if (values.json) {
    io.stdout.write(`${JSON.stringify(connections.map(toJson), null, 2)}\n`);
  } else if (connections.length === 0) {
    io.stderr.write('No connections yet. Create one with `tokenkeeper login <name> --provider factus`.\n');
  } else {
    io.stdout.write(`${connections.map((c) => describe(c)).join('\n\n')}\n`);
  }
  const needsLogin = connections.some((c) => c.state === 'reauth_required');
  return name && needsLogin ? ExitCode.reauthRequired : ExitCode.ok;
}

function describe(info: ConnectionInfo, now = Date.now()): string {
  const state =
    info.state === 'ok'
      ? 'ok'
      : `re-authorization required: run \`tokenkeeper login ${info.name}\`${info.lastError ? ` (${info.lastError.message})` : ''}`;
  return [
    `${info.name}`,
    `  provider:      ${describeConnection(info)}`,
    `  grant:         ${info.grant}${info.scope ? `, scope ${info.scope}` : ''}`,
    `  state:         ${state}`,
    `  token expires: ${formatInstant(info.expiresAt, now)}`,
    `  last refresh:  ${formatInstant(info.lastRefreshAt, now)}`,
    `  refresh token: ${info.hasRefreshToken ? 'saved (encrypted)' : 'none'}`,
  ].join('\n');
}

function toJson(info: ConnectionInfo) {
  const iso = (ms: number | null | undefined) => (typeof ms === 'number' ? new Date(ms).toISOString() : ms);
  return {
    ...info,
    expiresAt: iso(info.expiresAt),
    obtainedAt: iso(info.obtainedAt),
    lastRefreshAt: iso(info.lastRefreshAt),
    createdAt: iso(info.createdAt),
    ...(info.lastError ? { lastError: { ...info.lastError, at: iso(info.lastError.at) } } : {}),
  };
}
