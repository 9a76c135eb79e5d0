import type { RekeyFailure } from '../rekey.js';
import { parseCommandArgs, UsageError } from './args.js';
import { ExitCode } from './exit-codes.js';
import { withReplacingLoginOf } from './hints.js';
import { missingSqliteStore, withKeeper } from './open-keeper.js';
import { type CliIO, say } from './output.js';

export const usage =
  'tokenkeeper rekey [--json]\n' +
  'Seals every connection again under the current key (TOKENKEEPER_KEY, or the key file), opening\n' +
  'each with that key or one listed in TOKENKEEPER_PREVIOUS_KEYS (comma-separated). Safe while other\n' +
  'processes refresh: each connection is re-sealed under its refresh lock. --json prints the result.\n' +
  'A connection saved before tokenkeeper sealed its settings (endpoints, client id, grant) with its\n' +
  'secrets is re-sealed too, under the current key as well, and its settings are sealed as they are\n' +
  'then: run rekey once after upgrading, once `tokenkeeper status` shows the endpoints you expect.\n' +
  'Exits 1 when a connection could not be opened, was refused, or was busy; it is left as it was.';

export const options = { json: { type: 'boolean' } } as const;

export async function run(argv: string[], io: CliIO): Promise<number> {
  const parsed = parseCommandArgs(argv, options, usage, io);
  if (!parsed) return ExitCode.ok;
  const { values, positionals } = parsed;
  if (positionals.length > 0) throw new UsageError(`Unexpected argument "${positionals[0]}".`, usage);
  const missing = missingSqliteStore(io.env);
  if (missing)
    throw new UsageError(
      `There is no store at ${missing}: nothing to re-seal. Check --store or TOKENKEEPER_STORE.`,
    );
  const result = await withKeeper(io, async (keeper) => {
    const outcome = await keeper.rekey();
    // Each unopened connection's message names the login that replaces it, as `login` takes it.
    const failed = await Promise.all(
      outcome.failed.map(async (failure) => {
        if (failure.code === 'LOCK_TIMEOUT') return failure;
        return { ...failure, message: await withReplacingLoginOf(keeper, failure.name, failure.message) };
      }),
    );
    return { ...outcome, failed };
  });

  if (values.json) io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  const { keyId, resealed, alreadyCurrent, failed } = result;
  if (resealed.length + alreadyCurrent.length + failed.length === 0) {
    say(io, `No connections to re-seal; the current key is ${keyId}.`);
    return ExitCode.ok;
  }
  say(
    io,
    `Re-sealed ${count(resealed.length)} under key ${keyId}; ${count(alreadyCurrent.length)} already ` +
      `${alreadyCurrent.length === 1 ? 'was' : 'were'}.`,
  );
  const unopened = failed.filter((failure) => failure.code === 'STORE_KEY');
  const refused = failed.filter((failure) => failure.code === 'STORE_TAMPERED');
  const busy = failed.filter((failure) => failure.code === 'LOCK_TIMEOUT');
  if (unopened.length > 0) {
    say(
      io,
      `Could not open ${count(unopened.length)}; left as ${unopened.length === 1 ? 'it was' : 'they were'}:`,
    );
    listFailures(io, unopened);
    say(
      io,
      'Add the key each was sealed with to TOKENKEEPER_PREVIOUS_KEYS and run `tokenkeeper rekey` again, ' +
        'or replace it with the new login its line names.',
    );
  }
  if (refused.length > 0) {
    say(
      io,
      `Refused ${count(refused.length)} whose saved settings cannot be used; left as ${refused.length === 1 ? 'it was' : 'they were'}:`,
    );
    listFailures(io, refused);
    say(io, 'Log in to each again (`tokenkeeper login <name>`) to replace it.');
  }
  if (busy.length > 0) {
    say(io, `Could not re-seal ${count(busy.length)} while another process held its lock:`);
    listFailures(io, busy);
    say(io, 'Run `tokenkeeper rekey` again.');
  }
  return failed.length === 0 ? ExitCode.ok : ExitCode.failure;
}

function listFailures(io: CliIO, failures: RekeyFailure[]): void {
  for (const failure of failures) {
    const sealedWith = failure.keyId ? ` (sealed with key ${failure.keyId})` : '';
    say(io, `  ${failure.name}${sealedWith}: ${failure.message}`);
  }
}

function count(n: number): string {
  return `${n} connection${n === 1 ? '' : 's'}`;
}
