import { readFile } from 'node:fs/promises';
import { GRANT_TYPES, grantStrategy } from '../grants/strategies.js';
import { providerText } from '../http/provider-text.js';
import { parseCommandArgs, requirePositionals, UsageError } from './args.js';
import { ExitCode } from './exit-codes.js';
import { withKeeper } from './open-keeper.js';
import type { CliIO } from './output.js';

const usage =
  'tokenkeeper request <name> <METHOD> <path> [--data JSON|@file|@-] [--header "Name: value"]...\n' +
  'Prints the response body (pretty JSON on a terminal). Exit 0 on 2xx, else 1 with the status on stderr.';

const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']);

export async function run(argv: string[], io: CliIO): Promise<number> {
  const parsed = parseCommandArgs(
    argv,
    {
      data: { type: 'string', short: 'd' },
      header: { type: 'string', short: 'H', multiple: true },
    },
    usage,
    io,
  );
  if (!parsed) return ExitCode.ok;
  const { values, positionals } = parsed;
  const [name, rawMethod, path] = requirePositionals(
    positionals,
    ['<name>', '<METHOD>', '<path>'],
    usage,
  ) as [string, string, string];
  const method = rawMethod.toUpperCase();
  if (!METHODS.has(method))
    throw new UsageError(`Unknown method "${rawMethod}"; use one of ${[...METHODS].join(', ')}.`, usage);

  const headers = new Headers();
  const headerNames: string[] = [];
  for (const header of values.header ?? []) {
    const colon = header.indexOf(':');
    if (colon <= 0) throw new UsageError(`--header "${header}" should look like "Name: value".`, usage);
    const headerName = header.slice(0, colon).trim();
    headerNames.push(headerName);
    headers.append(headerName, header.slice(colon + 1).trim());
  }
  const body = values.data === undefined ? undefined : await readData(values.data, io);
  if (body !== undefined && !headers.has('content-type')) headers.set('content-type', 'application/json');
  if (!headers.has('accept')) headers.set('accept', 'application/json');

  return withKeeper(io, async (keeper) => {
    const profile = keeper.profile((await keeper.info(name)).provider);
    // Whichever header a grant of this provider sends its credential in is tokenkeeper's to set.
    const credentialHeaders = GRANT_TYPES.filter((grant) => profile.grants.includes(grant)).map((grant) =>
      grantStrategy(grant).credentialHeader(profile),
    );
    const refused = headerNames.find((given) => credentialHeaders.includes(given.toLowerCase()));
    if (refused) throw new UsageError(`tokenkeeper sets ${refused} itself; leave it out.`, usage);
    const response = await keeper.fetch(name, path, {
      method,
      headers,
      ...(body !== undefined ? { body } : {}),
    });
    const text = await response.text();
    io.stdout.write(render(text, response.headers.get('content-type'), Boolean(io.stdout.isTTY)));
    if (response.ok) return ExitCode.ok;
    const detail = errorMessageFrom(text, profile.errorMessageFields);
    io.stderr.write(`HTTP ${response.status} ${response.statusText}${detail ? `: ${detail}` : ''}\n`);
    return ExitCode.failure;
  });
}

async function readData(data: string, io: CliIO): Promise<string> {
  let text = data;
  if (data.startsWith('@')) {
    const source = data.slice(1);
    try {
      text = source === '-' ? await readStdin(io) : await readFile(source, 'utf8');
    } catch (error) {
      throw new UsageError(
        `Cannot read --data file "${source}": ${(error as NodeJS.ErrnoException).code ?? error}.`,
      );
    }
  }
  try {
    JSON.parse(text);
  } catch (error) {
    throw new UsageError(
      `--data is not valid JSON (${(error as Error).message}). Pass JSON, @file or @- for stdin.`,
    );
  }
  return text;
}

async function readStdin(io: CliIO): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of io.stdin) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

function render(text: string, contentType: string | null, pretty: boolean): string {
  if (text === '') return '';
  if (pretty && contentType?.includes('json')) {
    try {
      return `${JSON.stringify(JSON.parse(text), null, 2)}\n`;
    } catch {
      // not JSON after all: print as is
    }
  }
  return text.endsWith('\n') ? text : `${text}\n`;
}

/** The provider's own words for what went wrong, from the fields its profile names, made printable. */
export function errorMessageFrom(text: string, fields: string[]): string | undefined {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return undefined;
  }
  for (const field of fields) {
    const value = field
      .split('.')
      .reduce<unknown>(
        (node, key) =>
          node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined,
        body,
      );
    if (typeof value === 'string' && value) return providerText(value);
  }
  return undefined;
}
