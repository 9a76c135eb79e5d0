import { readFile } from 'node:fs/promises';
import { GRANT_TYPES, grantStrategy } from '../grants/strategies.js';
import { providerText } from '../http/provider-text.js';
import type { PaginationStyle } from '../providers/types.js';
import { parseCommandArgs, requirePositionals, UsageError } from './args.js';
import { ExitCode } from './exit-codes.js';
import { connectionName, withKeeper } from './open-keeper.js';
import { type CliIO, humanDuration, say } from './output.js';

export const usage =
  'tokenkeeper request [<name>] <METHOD> <path> [--data JSON|@file|@-] [--form key=value]... [--header "Name: value"]...\n' +
  '                   [--include] [--paginate]\n' +
  'Prints the response body (pretty JSON on a terminal). Exit 0 on 2xx, else 1 with the status on stderr.\n' +
  '  --include, -i   print the status line and response headers before the body\n' +
  '  --paginate      GET every page and print one JSON array of all items\n' +
  '  --form, -F      send key=value pairs as application/x-www-form-urlencoded';

export const options = {
  data: { type: 'string', short: 'd' },
  form: { type: 'string', short: 'F', multiple: true },
  header: { type: 'string', short: 'H', multiple: true },
  include: { type: 'boolean', short: 'i' },
  paginate: { type: 'boolean' },
} as const;

const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']);

/** More pages than this is a loop (a cursor that never ends), not a list. */
const MAX_PAGES = 1000;

export async function run(argv: string[], io: CliIO): Promise<number> {
  const parsed = parseCommandArgs(argv, options, usage, io);
  if (!parsed) return ExitCode.ok;
  const { values, positionals } = parsed;
  // The name may be left out (the default connection): then a method comes first.
  const [givenName, rawMethod, path] =
    positionals.length === 2 && METHODS.has(positionals[0]!.toUpperCase())
      ? [undefined, ...(positionals as [string, string])]
      : (requirePositionals(positionals, ['<name>', '<METHOD>', '<path>'], usage) as [
          string,
          string,
          string,
        ]);
  const method = rawMethod.toUpperCase();
  if (!METHODS.has(method))
    throw new UsageError(`Unknown method "${rawMethod}"; use one of ${[...METHODS].join(', ')}.`, usage);

  const headers = new Headers();
  const headerNames: string[] = [];
  for (const header of values.header ?? []) {
    const colon = header.indexOf(':');
    if (colon <= 0) throw new UsageError(`--header "${header}" should look like "Name: value".`, usage);
    const headerName = header.slice(0, colon).trim();
    const headerValue = header.slice(colon + 1).trim();
    checkHeader(headerName, headerValue);
    headerNames.push(headerName);
    headers.append(headerName, headerValue);
  }
  if (values.data !== undefined && values.form !== undefined) {
    throw new UsageError('Give --data or --form, not both.', usage);
  }
  const hasBody = values.data !== undefined || values.form !== undefined;
  // fetch refuses a body on these; say so in our words, before anything is sent.
  if (hasBody && (method === 'GET' || method === 'HEAD')) {
    throw new UsageError(
      `A ${method} request has no body; use POST, PUT or PATCH with --data or --form.`,
      usage,
    );
  }
  if (values.paginate && method !== 'GET')
    throw new UsageError('--paginate follows the pages of a GET.', usage);
  let body: string | undefined;
  if (values.data !== undefined) {
    body = await readData(values.data, io);
    if (!headers.has('content-type')) headers.set('content-type', 'application/json');
  } else if (values.form !== undefined) {
    body = formBody(values.form);
    if (!headers.has('content-type')) headers.set('content-type', 'application/x-www-form-urlencoded');
  }
  if (!headers.has('accept')) headers.set('accept', 'application/json');

  return withKeeper(io, async (keeper) => {
    const name = await connectionName(keeper, io, givenName, usage);
    const profile = keeper.profile((await keeper.info(name)).provider);
    // Whichever header a grant of this provider sends its credential in is tokenkeeper's to set.
    const credentialHeaders = GRANT_TYPES.filter((grant) => profile.grants.includes(grant)).map((grant) =>
      grantStrategy(grant).credentialHeader(profile),
    );
    const refused = headerNames.find((given) => credentialHeaders.includes(given.toLowerCase()));
    if (refused) throw new UsageError(`tokenkeeper sets ${refused} itself; leave it out.`, usage);
    // A wait the provider asked for is said as it starts: a quiet terminal looks like a hang.
    keeper.on('retry_wait', (wait) => {
      if (wait.connection === name)
        say(io, `${profile.displayName} answered ${wait.status}; trying again in ${seconds(wait.waitMs)}.`);
    });
    const init: RequestInit = { method, headers, ...(body !== undefined ? { body } : {}) };
    const pretty = Boolean(io.stdout.isTTY);

    if (values.paginate) {
      if (!profile.pagination) {
        throw new UsageError(
          `tokenkeeper does not know how ${profile.displayName} pages its lists; leave out --paginate.`,
        );
      }
      const pages = await fetchAllPages(
        (url) => keeper.fetch(name, url, init),
        path,
        profile.pagination,
        (response) => {
          if (values.include) io.stderr.write(statusAndHeaders(response));
        },
      );
      if (pages.failed) return reportFailure(io, pages.failed, profile.errorMessageFields);
      io.stdout.write(`${JSON.stringify(pages.items, null, pretty ? 2 : undefined)}\n`);
      return ExitCode.ok;
    }

    const response = await keeper.fetch(name, path, init);
    const text = await response.text();
    if (values.include) io.stdout.write(`${statusAndHeaders(response)}\n`);
    io.stdout.write(render(text, response.headers.get('content-type'), pretty));
    if (response.ok) return ExitCode.ok;
    return reportFailure(io, { response, text }, profile.errorMessageFields);
  });
}

function seconds(ms: number): string {
  return ms < 90_000 ? `${(ms / 1000).toFixed(1)} s` : humanDuration(ms);
}

/** RFC 9110 §5.6.2: a header name is a token. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * Headers the HTTP client sets from the request itself. Hop-by-hop ones describe the
 * connection to the server, which tokenkeeper opens and keeps (RFC 9110 §7.6.1); the others
 * would contradict the request: its host is the connection's base URL's, its body's length
 * and framing come from --data or --form, and it is sent whole, without waiting for a 100.
 */
const CONNECTION = 'it is about the connection to the server, which tokenkeeper manages';
const CLIENT_HEADERS = new Map<string, string>([
  ['connection', CONNECTION],
  ['keep-alive', CONNECTION],
  ['proxy-connection', CONNECTION],
  ['te', CONNECTION],
  ['trailer', CONNECTION],
  ['upgrade', CONNECTION],
  ['host', 'the request goes to the connection’s base URL, whose host it names'],
  ['content-length', 'the body’s length is taken from --data or --form'],
  ['transfer-encoding', 'how the body is sent is taken from --data or --form'],
  ['expect', 'the body is sent at once, without waiting for a 100 Continue'],
]);

/** What fetch would refuse in its own words ("Unexpected error"), or send to the wrong effect. */
function checkHeader(name: string, value: string): void {
  const shown = JSON.stringify(name);
  if (!HEADER_NAME.test(name)) {
    throw new UsageError(
      `--header ${shown}: not a header name. A name is letters, digits and !#$%&'*+-.^_\`|~, without spaces.`,
      usage,
    );
  }
  const reason = CLIENT_HEADERS.get(name.toLowerCase());
  if (reason)
    throw new UsageError(`--header ${shown}: tokenkeeper sets it itself (${reason}); leave it out.`, usage);
  // A line break would end the header and start another one the user never named.
  if (/[\r\n\0]/.test(value)) {
    throw new UsageError(
      `--header ${shown}: its value holds a line break or NUL, which a header cannot carry; give each header its own --header.`,
      usage,
    );
  }
  const wide = [...value].find((ch) => ch.codePointAt(0)! > 0xff);
  if (wide !== undefined) {
    throw new UsageError(
      `--header ${shown}: its value holds ${JSON.stringify(wide)}, which a header cannot carry (Latin-1 text only); percent-encode it, or send it in the body.`,
      usage,
    );
  }
}

function reportFailure(io: CliIO, failed: { response: Response; text: string }, fields: string[]): number {
  const { response, text } = failed;
  const detail = errorMessageFrom(text, fields);
  io.stderr.write(`HTTP ${response.status} ${response.statusText}${detail ? `: ${detail}` : ''}\n`);
  return ExitCode.failure;
}

/** The status line and headers as curl -i shows them. */
function statusAndHeaders(response: Response): string {
  const lines = [`HTTP/1.1 ${response.status} ${response.statusText}`];
  response.headers.forEach((value, key) => {
    lines.push(`${key}: ${value}`);
  });
  return `${lines.join('\n')}\n`;
}

function formBody(pairs: string[]): string {
  const form = new URLSearchParams();
  for (const pair of pairs) {
    const equals = pair.indexOf('=');
    if (equals <= 0) throw new UsageError(`--form "${pair}" should look like key=value.`, usage);
    form.append(pair.slice(0, equals), pair.slice(equals + 1));
  }
  return form.toString();
}

/**
 * Every page of a list, as the provider profile says its pages work, gathered into one
 * array. A body that is already a plain array is a list without pages.
 */
export async function fetchAllPages(
  send: (url: string) => Promise<Response>,
  path: string,
  style: PaginationStyle,
  onPage: (response: Response) => void = () => undefined,
): Promise<{ items: unknown[]; failed?: { response: Response; text: string } }> {
  const items: unknown[] = [];
  let next: string | undefined = path;
  for (let page = 0; next !== undefined; page++) {
    if (page === MAX_PAGES)
      throw new UsageError(`Stopped after ${MAX_PAGES} pages of ${path}; narrow the query.`);
    const response = await send(next);
    onPage(response);
    const text = await response.text();
    if (!response.ok) return { items, failed: { response, text } };
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new UsageError(
        `The answer to ${next} is not JSON, so it has no pages to follow; leave out --paginate.`,
      );
    }
    const pageItems = Array.isArray(body) ? body : field(body, style.itemsPath);
    if (!Array.isArray(pageItems)) {
      throw new UsageError(
        `The answer to ${next} is not a list (no ${style.itemsPath}); leave out --paginate.`,
      );
    }
    items.push(...pageItems);
    next = Array.isArray(body) ? undefined : nextPage(next, body, style);
  }
  return { items };
}

function nextPage(current: string, body: unknown, style: PaginationStyle): string | undefined {
  if (style.kind === 'page-number') {
    const page = Number(field(body, style.currentPagePath));
    const last = Number(field(body, style.lastPagePath));
    return Number.isInteger(page) && Number.isInteger(last) && page < last
      ? withQueryParam(current, style.pageParam, String(page + 1))
      : undefined;
  }
  const cursor = field(body, style.nextCursorPath);
  return field(body, style.hasNextPath) === true && typeof cursor === 'string' && cursor
    ? withQueryParam(current, style.cursorParam, cursor)
    : undefined;
}

/** Sets one query parameter of a path or URL, leaving the rest of it as written. */
function withQueryParam(pathOrUrl: string, key: string, value: string): string {
  const [beforeHash = ''] = pathOrUrl.split('#');
  const question = beforeHash.indexOf('?');
  const base = question === -1 ? beforeHash : beforeHash.slice(0, question);
  const params = new URLSearchParams(question === -1 ? '' : beforeHash.slice(question + 1));
  params.set(key, value);
  return `${base}?${params}`;
}

/** The value at a dotted path of a parsed JSON body. */
function field(body: unknown, path: string): unknown {
  return path
    .split('.')
    .reduce<unknown>(
      (node, key) => (node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined),
      body,
    );
}

async function readData(data: string, io: CliIO): Promise<string> {
  let text = data;
  const source = data.startsWith('@') ? data.slice(1) : undefined;
  if (source !== undefined) {
    try {
      text = source === '-' ? await readStdin(io) : await readFile(source, 'utf8');
    } catch (error) {
      throw new UsageError(`Cannot read --data file "${source}": ${whyUnreadable(error)}.`);
    }
  }
  const what =
    source === undefined ? '--data' : source === '-' ? 'The --data from stdin' : `--data file "${source}"`;
  if (text.trim() === '') throw new UsageError(`${what} is empty. Pass JSON, @file or @- for stdin.`);
  try {
    JSON.parse(text);
  } catch (error) {
    // The parser's own words are V8's; only the place it stopped is passed on.
    const where = placeOf(text, (error as Error).message);
    throw new UsageError(`${what} is not valid JSON${where}. Pass JSON, @file or @- for stdin.`);
  }
  return text;
}

/** Why a file cannot be read, in plain words. */
function whyUnreadable(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  const why: Record<string, string> = {
    ENOENT: 'there is no such file',
    EACCES: 'permission denied',
    EPERM: 'permission denied',
    EISDIR: 'it is a directory',
    ENOTDIR: 'part of its path is a file, not a directory',
  };
  return (
    (code && Object.hasOwn(why, code) ? why[code] : undefined) ??
    `it cannot be read (${code ?? 'unknown error'})`
  );
}

/** Where JSON.parse stopped, " (line L, column C)", when its message says; else nothing. */
function placeOf(text: string, message: string): string {
  const match = /position (\d+)/.exec(message);
  if (!match) return /end of JSON/i.test(message) ? ' (it ends too soon)' : '';
  const before = text.slice(0, Number(match[1]));
  const line = before.split('\n').length;
  const column = before.length - before.lastIndexOf('\n');
  return ` (line ${line}, column ${column})`;
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
  for (const path of fields) {
    const value = field(body, path);
    if (typeof value === 'string' && value) return providerText(value);
  }
  return undefined;
}
