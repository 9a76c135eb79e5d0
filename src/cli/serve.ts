/**
 * `tokenkeeper serve`: the daemon in the foreground, until SIGINT or SIGTERM (then command-line.ts
 * closes it gracefully through the open-keepers list and exits 130 / 143).
 */
import { ConfigError } from '../errors.js';
import { parseCommandArgs, UsageError } from './args.js';
import { ExitCode } from './exit-codes.js';
import { trackOpenKeeper } from './open-keepers.js';
import type { CliIO } from './output.js';

export const usage =
  'tokenkeeper serve [--port N] [--host H] [--json] [--keepalive DURATION] [--webhook URL]…\n' +
  '                  [--concurrency N] [--rate N] [--failure-threshold N]\n' +
  'Keeps every connection in the store fresh and serves them over HTTP to programs in any language:\n' +
  '  GET /v1/connections, GET /v1/connections/NAME/token, ANY /proxy/NAME/PATH, /metrics, /healthz,\n' +
  '  and a dashboard at /. Every endpoint but /healthz takes Authorization: Bearer <access secret>:\n' +
  '  TOKENKEEPER_SERVE_SECRET, else a secret file (mode 0600) beside the store, whose path is printed.\n' +
  '--port 0 (the default) picks a free port; --host defaults to 127.0.0.1 (another host needs\n' +
  'TOKENKEEPER_SERVE_SECRET set). --keepalive (default 24h) refreshes idle connections at least that\n' +
  'often. --webhook (repeatable) posts connection.reauth_required, connection.refresh_failed (after\n' +
  '--failure-threshold failures in a row, default 3) and connection.recovered, signed with\n' +
  'TOKENKEEPER_WEBHOOK_SECRET (Standard Webhooks). --concurrency (default 16) bounds refreshes at once;\n' +
  '--rate (default 20) bounds token requests per second to each provider.';

export const options = {
  port: { type: 'string' },
  host: { type: 'string' },
  json: { type: 'boolean' },
  keepalive: { type: 'string' },
  webhook: { type: 'string', multiple: true },
  concurrency: { type: 'string' },
  rate: { type: 'string' },
  'failure-threshold': { type: 'string' },
} as const;

export async function run(argv: string[], io: CliIO): Promise<number> {
  const parsed = parseCommandArgs(argv, options, usage, io);
  if (!parsed) return ExitCode.ok;
  const { values, positionals } = parsed;
  if (positionals.length > 0) throw new UsageError(`Unexpected argument "${positionals[0]}".`, usage);
  const port = integer(values.port, '--port', 0, 65535) ?? 0;
  const { startDaemon } = await import('../serve/daemon.js');
  let daemon: Awaited<ReturnType<typeof startDaemon>>;
  try {
    daemon = await startDaemon({
      ...(values.host ? { host: values.host } : {}),
      port,
      env: io.env,
      ...(values.keepalive ? { keepaliveMs: parseDuration(values.keepalive, '--keepalive') } : {}),
      ...(values.webhook ? { webhooks: values.webhook } : {}),
      ...optional('concurrency', integer(values.concurrency, '--concurrency', 1, 10_000)),
      ...optional('tokenRequestsPerSecond', integer(values.rate, '--rate', 1, 100_000)),
      ...optional('failureThreshold', integer(values['failure-threshold'], '--failure-threshold', 1, 1_000)),
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      throw new ConfigError(
        `Port ${port} is in use; choose another with --port, or --port 0 for a free one.`,
      );
    }
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
      throw new ConfigError(
        `Cannot listen on ${values.host}: no such address on this machine; check --host.`,
      );
    }
    throw error;
  }
  trackOpenKeeper(
    daemon,
    'Stopping: new requests get 503; refreshes under way are saved or let go of their locks.',
  );
  const link = daemon.dashboardLink();
  if (values.json) {
    const line = {
      url: daemon.url,
      pid: daemon.pid,
      dashboard: link,
      ...(daemon.secretFile ? { secretFile: daemon.secretFile } : { secretFrom: 'TOKENKEEPER_SERVE_SECRET' }),
    };
    io.stdout.write(`${JSON.stringify(line)}\n`);
  } else {
    io.stdout.write(
      [
        `tokenkeeper serve: listening on ${daemon.url} (pid ${daemon.pid})`,
        daemon.secretFile
          ? `Access secret: in ${daemon.secretFile} (mode 0600); send it as Authorization: Bearer <secret>.`
          : 'Access secret: TOKENKEEPER_SERVE_SECRET; send it as Authorization: Bearer <secret>.',
        `Dashboard (one-time link, valid 15 minutes): ${link}`,
        'Stop with Ctrl-C or SIGTERM.',
        '',
      ].join('\n'),
    );
  }
  // Runs until a signal: command-line.ts closes the daemon (gracefully) and exits.
  return new Promise<number>(() => undefined);
}

function optional<K extends string>(key: K, value: number | undefined): { [P in K]?: number } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: number };
}

function integer(value: string | undefined, flag: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`${flag} must be a whole number from ${min} to ${max}, got "${value}".`, usage);
  }
  return n;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `24h`, `30m`, `90s`, `7d`, `500ms`; a bare number is seconds. */
export function parseDuration(value: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(value.trim());
  const ms = match ? Number(match[1]) * (UNITS[match[2] ?? 's'] as number) : Number.NaN;
  if (!Number.isFinite(ms) || ms < 1000) {
    throw new UsageError(
      `${flag} must be a duration of at least 1s, such as 24h, 30m or 90s; got "${value}".`,
      usage,
    );
  }
  return ms;
}
