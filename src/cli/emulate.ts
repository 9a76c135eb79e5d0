/**
 * `tokenkeeper emulate <provider>`: runs a provider emulator on loopback until SIGINT or
 * SIGTERM and prints how to point tokenkeeper at it. The emulator module itself is only
 * imported once the arguments are known to be good.
 */
import { parseArgs } from 'node:util';
import type { RotationMode } from '../emulators/core/token-authority.js';

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
}

interface StartedEmulator {
  url: string;
  tokenUrl: string;
  credentials: object;
  stop(): Promise<void>;
}

interface CredentialField {
  key: string;
  label: string;
  env: string;
}

interface EmulatorEntry {
  displayName: string;
  credentialFields: readonly CredentialField[];
  start(settings: EmulatorSettings): Promise<StartedEmulator>;
}

/** One entry per provider; `factorial` plugs in here. */
const emulators: Record<string, EmulatorEntry> = {
  factus: {
    displayName: 'Factus',
    credentialFields: [
      { key: 'clientId', label: 'client id', env: 'FACTUS_CLIENT_ID' },
      { key: 'clientSecret', label: 'client secret', env: 'FACTUS_CLIENT_SECRET' },
      { key: 'username', label: 'username', env: 'FACTUS_USERNAME' },
      { key: 'password', label: 'password', env: 'FACTUS_PASSWORD' },
    ],
    async start(settings) {
      const { startFactusEmulator } = await import('../emulators/factus/factus-emulator.js');
      return startFactusEmulator(settings);
    },
  },
};

const ROTATIONS: readonly RotationMode[] = ['strict', 'grace', 'off'];

const USAGE =
  'tokenkeeper emulate <provider> [--port N] [--access-ttl S] [--refresh-ttl S] ' +
  '[--rotation strict|grace|off] [--grace S] [--rate-limit N] [--json]\n' +
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
    const fields = Object.fromEntries(
      entry.credentialFields.map((field) => [field.key, credentials[field.key]]),
    );
    io.stdout.write(
      `${JSON.stringify({ provider, url: emulator.url, tokenUrl: emulator.tokenUrl, ...fields })}\n`,
    );
  } else {
    io.stdout.write(humanBanner(entry, provider, emulator, credentials));
  }

  await waitForStop(io.signal);
  await emulator.stop();
  if (!json) io.stderr.write(`${entry.displayName} emulator stopped.\n`);
  return 0;
}

function parseEmulateArgs(
  argv: string[],
): { entry: EmulatorEntry; provider: string; settings: EmulatorSettings; json: boolean } | 'help' {
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        port: { type: 'string' },
        'access-ttl': { type: 'string' },
        'refresh-ttl': { type: 'string' },
        rotation: { type: 'string' },
        grace: { type: 'string' },
        'rate-limit': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
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
    if (!(ROTATIONS as readonly string[]).includes(rotation)) {
      throw new BadUsage(`--rotation must be one of ${ROTATIONS.join(', ')}, got "${rotation}".`);
    }
    settings.rotation = rotation as RotationMode;
  }
  return { entry, provider, settings, json: values.json === true };
}

function integerFlag(
  values: Record<string, string | boolean | undefined>,
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
): string {
  const rows: Array<[string, string]> = [
    ['URL', emulator.url],
    ['token URL', emulator.tokenUrl],
    ...entry.credentialFields.map((field): [string, string] => [
      field.label,
      String(credentials[field.key] ?? ''),
    ]),
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  return [
    `${entry.displayName} emulator running (an emulator: these credentials are fixed and not secret).`,
    '',
    ...rows.map(([label, value]) => `  ${`${label}:`.padEnd(width + 1)}  ${value}`),
    '',
    'Use it from a shell:',
    '',
    ...entry.credentialFields.map(
      (field) => `export ${field.env}=${shellQuote(String(credentials[field.key] ?? ''))}`,
    ),
    `tokenkeeper login ${provider}-emulator --provider ${provider} --base-url ${emulator.url}`,
    '',
    'Stats: GET /__emulator/stats, reset: POST /__emulator/reset. Press Ctrl+C to stop.',
    '',
  ].join('\n');
}

function shellQuote(value: string): string {
  return /^[A-Za-z0-9@%+=:,./_-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

function waitForStop(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
    if (signal?.aborted) done();
    else signal?.addEventListener('abort', done, { once: true });
  });
}
