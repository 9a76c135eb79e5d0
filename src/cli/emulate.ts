/**
 * `tokenkeeper emulate <provider>`: runs a provider emulator on loopback until SIGINT or
 * SIGTERM and prints how to point tokenkeeper at it. Everything it knows of the emulators
 * comes from their public entry (src/emulators/index.ts), and the credential variables
 * and default redirect URI from the provider profiles.
 */
import { parseArgs } from 'node:util';
import {
  CONSENT_MODES,
  type ConsentMode,
  FACTORIAL_SCOPES,
  REUSED_CODE_MODES,
  type ReusedCodeMode,
  ROTATION_MODES,
  type RotationMode,
  startFactorialEmulator,
  startFactusEmulator,
} from '../emulators/index.js';
import { factorialProfile } from '../providers/factorial.js';
import { factusProfile } from '../providers/factus.js';
import { shellWord } from '../shell-word.js';
import { checkFlags } from './args.js';
import { ExitCode } from './exit-codes.js';

export interface EmulateIO {
  stdout: { write(chunk: string): unknown };
  stderr: { write(chunk: string): unknown };
  /** Stops the emulator like SIGINT would (for embedding and tests). */
  signal?: AbortSignal;
}

interface EmulatorSettings {
  port?: number;
  accessTtlSeconds?: number;
  refreshTtlSeconds?: number;
  rotation?: RotationMode;
  graceSeconds?: number;
  rateLimitPerMinute?: number;
  consent?: ConsentMode;
  reusedCode?: ReusedCodeMode;
  redirectUris?: string[];
  postLimitV1PerMinute?: number;
  postLimitV2PerMinute?: number;
  appScopes?: string[];
  redirectUriMatching?: 'loopback-any-port' | 'exact';
  retiredVersions?: 'oldest' | 'not-found';
  dianPendingSends?: number;
  userRights?: 'all' | 'none';
}

interface StartedEmulator {
  url: string;
  tokenUrl: string;
  /** Only for emulators with an authorization endpoint. */
  authorizeUrl?: string;
  revokeUrl?: string;
  credentials: object;
  stop(): Promise<void>;
}

interface CredentialField {
  key: string;
  label: string;
  /** The variable the `export` line sets; fields without one are shown but not exported. */
  env?: string;
}

/** Flags every emulator takes; the others are listed per provider in `EmulatorEntry.flags`. */
const COMMON_FLAGS = ['port', 'access-ttl', 'refresh-ttl', 'rotation', 'grace', 'json', 'help'];

interface EmulatorEntry {
  displayName: string;
  /** Shown in the banner and, in this order, in the --json line. */
  credentialFields: readonly CredentialField[];
  /** Flags only this provider takes. */
  flags: readonly string[];
  /** What only the --json line carries, after the credential fields (the banner has rows of its own). */
  jsonExtras?(credentials: Record<string, unknown>): Record<string, unknown>;
  /** Banner-only rows (not in --json). */
  bannerRows?(credentials: Record<string, unknown>, settings: EmulatorSettings): Array<[string, string]>;
  /** Ready-to-paste login commands. */
  loginCommands(provider: string, url: string, credentials: Record<string, unknown>): string[];
  start(settings: EmulatorSettings): Promise<StartedEmulator>;
}

/** One entry per provider. Flags a provider does not list are refused before it starts. */
const emulators: Record<string, EmulatorEntry> = {
  factus: {
    displayName: 'Factus',
    credentialFields: [
      { key: 'clientId', label: 'client id', env: factusProfile.credentialEnv.clientId },
      { key: 'clientSecret', label: 'client secret', env: factusProfile.credentialEnv.clientSecret },
      { key: 'username', label: 'username', env: factusProfile.credentialEnv.username },
      { key: 'password', label: 'password', env: factusProfile.credentialEnv.password },
    ],
    flags: ['rate-limit', 'dian-pending-sends', 'user-rights'],
    loginCommands: (provider, url) => [
      `tokenkeeper login ${provider}-emulator --provider ${provider} --base-url ${url}`,
    ],
    start: (settings) => startFactusEmulator(settings),
  },
  factorial: {
    displayName: 'Factorial',
    credentialFields: [
      { key: 'clientId', label: 'client id', env: factorialProfile.credentialEnv.clientId },
      { key: 'clientSecret', label: 'client secret', env: factorialProfile.credentialEnv.clientSecret },
      { key: 'redirectUris', label: 'redirect URIs' },
      { key: 'apiKey', label: 'API key', env: factorialProfile.credentialEnv.apiKey },
    ],
    flags: [
      'consent',
      'reused-code',
      'redirect-uri',
      'post-limit-v1',
      'post-limit-v2',
      'app-scopes',
      'redirect-matching',
      'retired-versions',
    ],
    // The user who signs in on the consent form (--consent form).
    jsonExtras(credentials) {
      const user = credentials.user as { email: string; password: string };
      return { user: { email: user.email, password: user.password } };
    },
    bannerRows(credentials, settings) {
      const user = credentials.user as { email: string; password: string };
      const consent =
        settings.consent === 'form'
          ? 'form (sign in as the user above, then click Authorize)'
          : 'auto (the authorize URL redirects with a code at once)';
      return [
        ['user', user.email],
        ['user password', user.password],
        ['consent', consent],
      ];
    },
    loginCommands(provider, url, credentials) {
      const redirectUri = String(credentials.redirectUri ?? '');
      const redirect =
        redirectUri && redirectUri !== factorialProfile.defaultRedirectUri
          ? ` --redirect-uri ${shellWord(redirectUri)}`
          : '';
      return [
        `tokenkeeper login ${provider}-emulator --provider ${provider} --base-url ${url}${redirect}`,
        `tokenkeeper login ${provider}-emulator-key --provider ${provider} --base-url ${url} --grant api_key`,
      ];
    },
    start: (settings) => startFactorialEmulator(settings),
  },
};

const USAGE =
  'tokenkeeper emulate <provider> [--port N] [--access-ttl S] [--refresh-ttl S] ' +
  '[--rotation strict|grace|off|on-first-use] [--grace S] [--json]\n' +
  '  factus:    [--rate-limit N] [--dian-pending-sends N] [--user-rights all|none]\n' +
  '  factorial: [--consent auto|form] [--reused-code same-token|invalid_grant] [--redirect-uri URI]... ' +
  '[--post-limit-v1 N] [--post-limit-v2 N] [--app-scopes "employees documents"] ' +
  '[--redirect-matching loopback-any-port|exact] [--retired-versions oldest|not-found]\n' +
  `Providers: ${Object.keys(emulators).join(', ')}. --port 0 (the default) picks a free port.`;

class BadUsage extends Error {}

const processIO: EmulateIO = { stdout: process.stdout, stderr: process.stderr };

export async function runEmulate(argv: string[], io: EmulateIO = processIO): Promise<number> {
  let parsed: { entry: EmulatorEntry; provider: string; settings: EmulatorSettings; json: boolean } | 'help';
  try {
    parsed = parseEmulateArgs(argv);
  } catch (error) {
    if (!(error instanceof BadUsage)) throw error;
    io.stderr.write(`tokenkeeper emulate: ${error.message}\nUsage: ${USAGE}\n`);
    return 2;
  }
  if (parsed === 'help') {
    io.stdout.write(`Usage: ${USAGE}\n`);
    return 0;
  }
  const { entry, provider, settings, json } = parsed;

  let emulator: StartedEmulator;
  try {
    emulator = await entry.start(settings);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'EADDRINUSE'
        ? `port ${settings.port} is already in use; pick another with --port, or --port 0 for a free one`
        : error instanceof Error
          ? error.message
          : String(error);
    io.stderr.write(`tokenkeeper emulate: could not start the ${entry.displayName} emulator: ${reason}\n`);
    return 1;
  }

  const credentials = emulator.credentials as Record<string, unknown>;
  if (json) {
    const fields = {
      ...Object.fromEntries(entry.credentialFields.map((field) => [field.key, credentials[field.key]])),
      ...entry.jsonExtras?.(credentials),
    };
    const endpoints =
      emulator.authorizeUrl !== undefined
        ? { authorizeUrl: emulator.authorizeUrl, revokeUrl: emulator.revokeUrl }
        : {};
    io.stdout.write(
      `${JSON.stringify({ provider, url: emulator.url, tokenUrl: emulator.tokenUrl, ...endpoints, ...fields })}\n`,
    );
  } else {
    io.stdout.write(humanBanner(entry, provider, emulator, credentials, settings));
  }

  const stoppedBy = await waitForStop(io.signal);
  await emulator.stop();
  if (!json) io.stderr.write(`${entry.displayName} emulator stopped.\n`);
  return exitCodeAfter(stoppedBy);
}

/** Ended by a signal, the emulator exits as every command does (130 / 143); stopped by its embedder, 0. */
function exitCodeAfter(stoppedBy: NodeJS.Signals | 'abort'): number {
  if (stoppedBy === 'SIGINT') return ExitCode.interrupted;
  if (stoppedBy === 'SIGTERM') return ExitCode.terminated;
  return 0;
}

/** Every emulator's flags; each emulator accepts the common ones and its own (see `flags`). */
export const EMULATE_OPTIONS = {
  port: { type: 'string' },
  'access-ttl': { type: 'string' },
  'refresh-ttl': { type: 'string' },
  rotation: { type: 'string' },
  grace: { type: 'string' },
  'rate-limit': { type: 'string' },
  consent: { type: 'string' },
  'reused-code': { type: 'string' },
  'redirect-uri': { type: 'string', multiple: true },
  'post-limit-v1': { type: 'string' },
  'post-limit-v2': { type: 'string' },
  'app-scopes': { type: 'string' },
  'redirect-matching': { type: 'string' },
  'retired-versions': { type: 'string' },
  'dian-pending-sends': { type: 'string' },
  'user-rights': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function parseEmulateArgs(
  argv: string[],
): { entry: EmulatorEntry; provider: string; settings: EmulatorSettings; json: boolean } | 'help' {
  let values: Record<string, string | boolean | string[] | undefined>;
  let positionals: string[];
  try {
    checkFlags(argv, EMULATE_OPTIONS, '');
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: EMULATE_OPTIONS,
    }));
  } catch (error) {
    throw new BadUsage((error as Error).message);
  }
  if (values.help) return 'help';

  const [provider, ...extra] = positionals;
  if (provider === undefined)
    throw new BadUsage(`which provider? Give one of: ${Object.keys(emulators).join(', ')}.`);
  const entry = Object.hasOwn(emulators, provider) ? emulators[provider] : undefined;
  if (!entry) {
    throw new BadUsage(
      `unknown provider "${provider}"; valid providers: ${Object.keys(emulators).join(', ')}.`,
    );
  }
  if (extra.length > 0) throw new BadUsage(`unexpected argument "${extra[0]}".`);
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined || COMMON_FLAGS.includes(name) || entry.flags.includes(name)) continue;
    const owners = Object.entries(emulators)
      .filter(([, other]) => other.flags.includes(name))
      .map(([key]) => key);
    throw new BadUsage(
      `--${name} is not an option of the ${provider} emulator (only of ${owners.join(', ')}).`,
    );
  }

  const settings: EmulatorSettings = {};
  const port = integerFlag(values, 'port', 0, 65535);
  if (port !== undefined) settings.port = port;
  const accessTtl = integerFlag(values, 'access-ttl', 1);
  if (accessTtl !== undefined) settings.accessTtlSeconds = accessTtl;
  const refreshTtl = integerFlag(values, 'refresh-ttl', 1);
  if (refreshTtl !== undefined) settings.refreshTtlSeconds = refreshTtl;
  const grace = integerFlag(values, 'grace', 0);
  if (grace !== undefined) settings.graceSeconds = grace;
  const rateLimit = integerFlag(values, 'rate-limit', 1);
  if (rateLimit !== undefined) settings.rateLimitPerMinute = rateLimit;
  const rotation = values.rotation;
  if (typeof rotation === 'string') {
    if (!(ROTATION_MODES as readonly string[]).includes(rotation)) {
      throw new BadUsage(`--rotation must be one of ${ROTATION_MODES.join(', ')}, got "${rotation}".`);
    }
    settings.rotation = rotation as RotationMode;
  }
  if (grace !== undefined && settings.rotation !== 'grace') {
    throw new BadUsage(
      '--grace is the grace period of --rotation grace; add --rotation grace, or drop --grace.',
    );
  }
  const consent = oneOfFlag(values, 'consent', CONSENT_MODES);
  if (consent !== undefined) settings.consent = consent;
  const reusedCode = oneOfFlag(values, 'reused-code', REUSED_CODE_MODES);
  if (reusedCode !== undefined) settings.reusedCode = reusedCode;
  const v1Limit = integerFlag(values, 'post-limit-v1', 1);
  if (v1Limit !== undefined) settings.postLimitV1PerMinute = v1Limit;
  const v2Limit = integerFlag(values, 'post-limit-v2', 1);
  if (v2Limit !== undefined) settings.postLimitV2PerMinute = v2Limit;
  const appScopes = values['app-scopes'];
  if (typeof appScopes === 'string') {
    const scopes = appScopes.split(/[\s,+]+/).filter(Boolean);
    const unknown = scopes.filter((scope) => !FACTORIAL_SCOPES.includes(scope));
    if (scopes.length === 0 || unknown.length > 0) {
      const got = scopes.length === 0 ? 'none' : `unknown ${unknown.map((scope) => `"${scope}"`).join(', ')}`;
      throw new BadUsage(
        `--app-scopes takes scopes separated by spaces from: ${FACTORIAL_SCOPES.join(', ')}; got ${got}.`,
      );
    }
    settings.appScopes = scopes;
  }
  const matching = oneOfFlag(values, 'redirect-matching', ['loopback-any-port', 'exact'] as const);
  if (matching !== undefined) settings.redirectUriMatching = matching;
  const retired = oneOfFlag(values, 'retired-versions', ['oldest', 'not-found'] as const);
  if (retired !== undefined) settings.retiredVersions = retired;
  const pendingSends = integerFlag(values, 'dian-pending-sends', 0);
  if (pendingSends !== undefined) settings.dianPendingSends = pendingSends;
  const rights = oneOfFlag(values, 'user-rights', ['all', 'none'] as const);
  if (rights !== undefined) settings.userRights = rights;
  const redirectUris = values['redirect-uri'];
  if (Array.isArray(redirectUris)) {
    for (const uri of redirectUris) {
      if (!URL.canParse(uri) || uri.includes('#')) {
        throw new BadUsage(`--redirect-uri must be an absolute URI without a fragment, got "${uri}".`);
      }
    }
    settings.redirectUris = [...new Set(redirectUris)];
  }
  return { entry, provider, settings, json: values.json === true };
}

function oneOfFlag<T extends string>(
  values: Record<string, string | boolean | string[] | undefined>,
  name: string,
  allowed: readonly T[],
): T | undefined {
  const raw = values[name];
  if (typeof raw !== 'string') return undefined;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new BadUsage(`--${name} must be one of ${allowed.join(', ')}, got "${raw}".`);
  }
  return raw as T;
}

function integerFlag(
  values: Record<string, string | boolean | string[] | undefined>,
  name: string,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  const raw = values[name];
  if (typeof raw !== 'string') return undefined;
  const value = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `${min} or more` : `from ${min} to ${max}`;
    throw new BadUsage(`--${name} must be a whole number ${range}, got "${raw}".`);
  }
  return value;
}

function humanBanner(
  entry: EmulatorEntry,
  provider: string,
  emulator: StartedEmulator,
  credentials: Record<string, unknown>,
  settings: EmulatorSettings,
): string {
  const display = (value: unknown) => (Array.isArray(value) ? value.join(', ') : String(value ?? ''));
  const rows: Array<[string, string]> = [
    ['URL', emulator.url],
    ['token URL', emulator.tokenUrl],
    ...(emulator.authorizeUrl !== undefined
      ? [['authorize URL', emulator.authorizeUrl] as [string, string]]
      : []),
    ...(emulator.revokeUrl !== undefined ? [['revoke URL', emulator.revokeUrl] as [string, string]] : []),
    ...entry.credentialFields.map((field): [string, string] => [
      field.label,
      display(credentials[field.key]),
    ]),
    ...(entry.bannerRows?.(credentials, settings) ?? []),
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  return [
    `${entry.displayName} emulator running (an emulator: these credentials are fixed and not secret).`,
    '',
    ...rows.map(([label, value]) => `  ${`${label}:`.padEnd(width + 1)}  ${value}`),
    '',
    'Use it from a shell:',
    '',
    ...entry.credentialFields.flatMap((field) =>
      field.env ? [`export ${field.env}=${shellWord(String(credentials[field.key] ?? ''))}`] : [],
    ),
    ...entry.loginCommands(provider, emulator.url, credentials),
    '',
    'Stats: GET /__emulator/stats, reset: POST /__emulator/reset.',
    'Faults: POST /__emulator/faults (see docs/fault-injection.md). Press Ctrl+C to stop.',
    '',
  ].join('\n');
}

/** Resolves with what stopped the emulator: a signal, or the embedder's AbortSignal. */
function waitForStop(signal: AbortSignal | undefined): Promise<NodeJS.Signals | 'abort'> {
  return new Promise((resolve) => {
    const onInterrupt = () => done('SIGINT');
    const onTerminate = () => done('SIGTERM');
    const onAbort = () => done('abort');
    const done = (by: NodeJS.Signals | 'abort') => {
      process.off('SIGINT', onInterrupt);
      process.off('SIGTERM', onTerminate);
      signal?.removeEventListener('abort', onAbort);
      resolve(by);
    };
    process.once('SIGINT', onInterrupt);
    process.once('SIGTERM', onTerminate);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
}
