import { existsSync, statSync } from 'node:fs';
import type { ConnectionInfo } from '../connection.js';
import { isTokenkeeperError, type TokenkeeperError } from '../errors.js';
import { grantStrategy } from '../grants/strategies.js';
import type { ConnectionDetails, Keeper } from '../keeper.js';
import { shellWord } from '../shell-word.js';
import { parseStoreLocation } from '../store/open-store.js';
import { redactConnectionUrl } from '../store/redact-url.js';
import { parseCommandArgs, UsageError } from './args.js';
import { ExitCode } from './exit-codes.js';
import { newLoginCommands } from './hints.js';
import { missingSqliteStore, withKeeper } from './open-keeper.js';
import { type CliIO, describeConnection, formatInstant, humanDuration } from './output.js';

export const usage =
  'tokenkeeper status [<name>] [--json]\nShows where connections are kept, and for each its account, scopes, credential (first 4\n' +
  'characters), expiry, state and the id of the key its secrets are sealed with (keyId). Without a\n' +
  'name it shows every connection, whatever TOKENKEEPER_CONNECTION says. --json prints an object\n' +
  'for one connection, an array for all.\n' +
  'Exits 1 when a connection it shows needs a new login, or its secrets cannot be opened here\n' +
  '(sealed with another key, damaged, or changed outside tokenkeeper: opensHere false).';

export const options = { json: { type: 'boolean' } } as const;

/** What status knows of a connection: the details, or only the clear metadata when they do not open. */
type ShownDetails = Omit<ConnectionDetails, 'settingsBound'> & { settingsBound?: boolean };

/** What status shows of one connection; also its --json form. Never more than 4 characters of a secret. */
interface ConnectionStatus
  extends Omit<ShownDetails, 'expiresAt' | 'obtainedAt' | 'lastRefreshAt' | 'createdAt' | 'lastError'> {
  expiry: string;
  needsLogin: boolean;
  /** A `tokenkeeper serve` daemon on this store refreshes it before it expires. */
  keptFreshByDaemon: boolean;
  /** False for a credential that is its own token (an API key), as the grant strategy says. */
  refreshable: boolean;
  /**
   * False when its secrets cannot be opened here: sealed under a key this process does not
   * have, damaged, or its settings changed outside tokenkeeper. It cannot be used until then.
   */
  opensHere: boolean;
  /** Why the secrets do not open (STORE_KEY or STORE_TAMPERED), and what to do. */
  openError?: { code: string; message: string };
  expiresAt?: string | null;
  obtainedAt?: string;
  lastRefreshAt?: string;
  createdAt?: string;
  lastError?: { code: string; message: string; at?: string };
}

export async function run(argv: string[], io: CliIO): Promise<number> {
  const parsed = parseCommandArgs(argv, options, usage, io);
  if (!parsed) return ExitCode.ok;
  const { values, positionals } = parsed;
  if (positionals.length > 1) throw new UsageError(`Unexpected argument "${positionals[1]}".`, usage);
  const [name] = positionals;
  const now = Date.now();
  const store = describeStore(io.env);
  // Read as an empty store, not created: its key id would be a throwaway key's.
  const missing = missingSqliteStore(io.env) !== undefined;
  const { connections, key } = await withKeeper(io, async (keeper) => {
    const infos = name ? [await keeper.info(name)] : await keeper.list();
    const daemon = (await keeper.liveDaemons()).length > 0;
    const connections = await Promise.all(
      infos.map(async (info) => {
        const { details, unopened } = await detailsOf(keeper, info);
        return statusOf(details, now, daemon, unopened);
      }),
    );
    return { connections, key: await currentKey(keeper) };
  });

  if (values.json) {
    const json = name ? connections[0] : connections;
    io.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
  } else {
    const keyFileToCome = missing && store.key.startsWith('key file');
    const keyLine = keyFileToCome
      ? `${store.key.replace(/ \(new\)$/, '')} (none yet)`
      : describeKey(store, key);
    io.stdout.write(`Store: ${store.location}${missing ? ', not created yet' : ''}\nKey:   ${keyLine}\n`);
    if (connections.length === 0) {
      io.stderr.write(`No connections yet. Create one with:\n${newLoginCommands('NAME').join('\n')}\n`);
    } else {
      const text = connections.map((c) => describe(c, key)).join('\n\n');
      io.stdout.write(`\n${io.pointAtStore?.(text) ?? text}\n`);
    }
  }
  // As gh does: a status that lists a connection needing a login, or one that cannot even be
  // opened here, is not a success.
  return connections.some((c) => c.needsLogin || !c.opensHere) ? ExitCode.failure : ExitCode.ok;
}

/** The id of the key this process seals under, or why it has none (a lost key file). */
type CurrentKey = { id: string } | { missing: TokenkeeperError };

async function currentKey(keeper: Keeper): Promise<CurrentKey> {
  try {
    return { id: await keeper.keyId() };
  } catch (error) {
    if (isTokenkeeperError(error) && error.code === 'STORE_KEY') return { missing: error };
    throw error;
  }
}

/**
 * The details need the encryption key. Without it status still shows the metadata, the id of
 * the key the secrets are sealed under (their header names it, no key needed), and why they
 * do not open.
 */
async function detailsOf(
  keeper: Keeper,
  info: ConnectionInfo,
): Promise<{ details: ShownDetails; unopened?: TokenkeeperError }> {
  try {
    return { details: await keeper.details(info.name) };
  } catch (error) {
    if (isTokenkeeperError(error) && (error.code === 'STORE_KEY' || error.code === 'STORE_TAMPERED')) {
      // list() reads no sealed data, so it has no key id; info() reads the sealed header.
      const withKeyId = info.keyId ? info : await keeper.info(info.name).catch(() => info);
      return { details: withKeyId, unopened: error };
    }
    throw error;
  }
}

export function statusOf(
  details: ShownDetails,
  now: number,
  daemon: boolean,
  unopened?: TokenkeeperError,
): ConnectionStatus {
  const { expiresAt, obtainedAt, lastRefreshAt, createdAt, lastError, ...rest } = details;
  const iso = (ms: number) => new Date(ms).toISOString();
  const { refreshable } = grantStrategy(details.grant);
  const apiKey = !refreshable;
  return {
    ...rest,
    refreshable,
    // An API key is its own credential: it has no scopes of its own to show.
    ...(apiKey ? { scope: undefined, grantedScope: undefined } : {}),
    expiry: expiryOf(details, apiKey, now, daemon, !unopened),
    needsLogin: details.state === 'reauth_required',
    opensHere: !unopened,
    ...(unopened ? { openError: { code: unopened.code, message: unopened.message } } : {}),
    keptFreshByDaemon: daemon && refreshable && details.state === 'ok',
    ...(expiresAt !== undefined ? { expiresAt: expiresAt === null ? null : iso(expiresAt) } : {}),
    ...(obtainedAt !== undefined ? { obtainedAt: iso(obtainedAt) } : {}),
    ...(lastRefreshAt !== undefined ? { lastRefreshAt: iso(lastRefreshAt) } : {}),
    createdAt: iso(createdAt),
    // A tampered row's clear copy holds whatever its writer put there.
    ...(lastError && unopened?.code !== 'STORE_TAMPERED'
      ? { lastError: { ...lastError, at: iso(lastError.at) } }
      : {}),
  };
}

/**
 * Expiry as it will play out: a daemon refreshes before expiry (it may hold a key this
 * process lacks); without one, tokens are refreshed on use, if their secrets open here.
 */
function expiryOf(
  details: ShownDetails,
  apiKey: boolean,
  now: number,
  daemon: boolean,
  opens: boolean,
): string {
  if (apiKey) return 'API key, does not expire';
  const { expiresAt } = details;
  if (expiresAt === null) return 'does not expire';
  if (expiresAt === undefined) return 'unknown';
  if (details.state === 'reauth_required')
    return `needs a new login (token ${expiresAt <= now ? 'expired' : 'rejected'})`;
  const then = daemon
    ? 'kept fresh by a daemon'
    : opens
      ? 'refreshes on next use'
      : 'not refreshed here: its secrets do not open';
  if (expiresAt <= now) return `expired ${humanDuration(now - expiresAt)} ago; ${then}`;
  return `valid until ${formatInstant(expiresAt, now)}; ${daemon || !opens ? then : 'refreshes on next use after that'}`;
}

function describe(c: ConnectionStatus, key: CurrentKey): string {
  const state = c.openError
    ? // A lost key file is the store's problem, said once on the Key line; anything else is this row's.
      `cannot be opened here: ${'missing' in key && c.openError.message === key.missing.message ? 'the store has no key (see Key above)' : c.openError.message}`
    : c.needsLogin
      ? `re-authorization required: run \`tokenkeeper login ${c.name}\`${c.lastError ? ` (${c.lastError.message})` : ''}`
      : 'ok';
  const scopes = c.grantedScope ?? c.scope;
  const lines = [
    c.name,
    `  provider:      ${describeConnection(c)}`,
    ...(c.account ? [`  account:       ${c.account}`] : []),
    `  grant:         ${c.grant.replace(/_/g, ' ')}`,
    ...(scopes !== undefined ? [`  scopes:        ${scopes || 'none'}`] : []),
    ...(c.credentialPrefix ? [`  credential:    ${c.credentialPrefix}${'*'.repeat(8)}`] : []),
    `  expiry:        ${c.expiry}`,
    `  state:         ${state}`,
    ...(c.lastRefreshAt ? [`  last refresh:  ${formatInstant(Date.parse(c.lastRefreshAt))}`] : []),
    ...(c.refreshable ? [`  refresh token: ${c.hasRefreshToken ? 'saved (encrypted)' : 'none'}`] : []),
    ...(c.keyId
      ? [
          `  sealed with:   key ${c.keyId}${c.settingsBound === false ? '; its settings are not sealed yet: run `tokenkeeper rekey`' : ''}`,
        ]
      : []),
  ];
  return lines.join('\n');
}

/** Where the key comes from and its id (never the key); or, when it is lost, what to do. */
function describeKey(store: { key: string; rotating: boolean }, key: CurrentKey): string {
  if ('missing' in key) return `missing. ${key.missing.message}`;
  // A rotation under way: say so, without reading or showing the keys.
  return `${store.key}, key id ${key.id}${store.rotating ? '; previous keys from TOKENKEEPER_PREVIOUS_KEYS' : ''}`;
}

/**
 * tokenkeeper makes its store 0600, but a file made by hand or copied keeps its mode. Its
 * secrets are sealed, yet names, endpoints and expiry are not: say so, with the fix.
 */
function openToOthers(path: string): string {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch {
    return '';
  }
  if (process.platform === 'win32' || (mode & 0o077) === 0) return '';
  return `; other users may read it (mode ${(mode & 0o777).toString(8).padStart(4, '0')}): run \`chmod 600 ${shellWord(path)}\``;
}

/** Where the store is and where its key comes from, without a password or the key. */
function describeStore(env: NodeJS.ProcessEnv): { location: string; key: string; rotating: boolean } {
  return {
    ...describeStoreKey(env),
    rotating: Boolean(env.TOKENKEEPER_PREVIOUS_KEYS?.replace(/[\s,]/g, '')),
  };
}

function describeStoreKey(env: NodeJS.ProcessEnv): { location: string; key: string } {
  const fromEnvKey = Boolean(env.TOKENKEEPER_KEY?.trim());
  let target: ReturnType<typeof parseStoreLocation>;
  try {
    target = parseStoreLocation(env.TOKENKEEPER_STORE || undefined, { env });
  } catch {
    return { location: '(TOKENKEEPER_STORE cannot be read)', key: '-' };
  }
  switch (target.kind) {
    case 'memory':
      return {
        location: 'memory (this process only)',
        key: fromEnvKey ? 'TOKENKEEPER_KEY' : 'random, this process only',
      };
    case 'sqlite':
      return {
        location: `${target.path} (SQLite)${openToOthers(target.path)}`,
        key: fromEnvKey
          ? 'TOKENKEEPER_KEY'
          : `key file ${target.keyFile}${existsSync(target.keyFile) ? '' : ' (new)'}`,
      };
    case 'postgres':
      return { location: `${redactConnectionUrl(target.url)} (PostgreSQL)`, key: 'TOKENKEEPER_KEY' };
    case 'redis':
      return { location: `${redactConnectionUrl(target.url)} (Redis)`, key: 'TOKENKEEPER_KEY' };
  }
}
