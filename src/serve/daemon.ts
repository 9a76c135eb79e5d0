/**
 * `tokenkeeper serve` as a library: opens the store, keeps every connection alive
 * (keep-alive.ts), and answers HTTP (routes.ts) for programs in any language.
 *
 *   startDaemon → open store + keeper → KeepAlive.start (read store, schedule, watch)
 *              → HTTP server on host:port
 *   close      → new requests 503 → stop scheduling → refreshes under way finish or
 *                release their locks (keeper.close, bounded) → webhooks flushed → store closed
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { type Clock, systemClock } from '../clock.js';
import { ConfigError } from '../errors.js';
import type { BackoffPolicy } from '../http/backoff.js';
import { isLoopbackUrl } from '../http/urls.js';
import { createKeeper, type Keeper, type KeeperOptions } from '../keeper.js';
import { resolveKeeperOptions } from '../options.js';
import { shellWord } from '../shell-word.js';
import { openStoreWithKeys } from '../store/open-store.js';
import type { TokenStore } from '../store/types.js';
import {
  type AccessSecret,
  DashboardSessions,
  loadAccessSecret,
  SECRET_ENV,
  SecretDigest,
} from './access.js';
import { type AlertListener, Alerts } from './alerts.js';
import type { ViewedConnection } from './connection-view.js';
import { KeepAlive } from './keep-alive.js';
import { LocalDueIndex } from './local-due-index.js';
import { ServeMetrics } from './metrics.js';
import { handleRequest, logFailure, type RouteContext } from './routes.js';
import { type StoreArgument, storeArgumentFor } from './store-argument.js';
import { WEBHOOK_SECRET_ENV, WebhookSender } from './webhooks.js';

export const SERVE_DEFAULTS = {
  host: '127.0.0.1',
  keepaliveMs: 24 * 60 * 60 * 1000,
  keepaliveJitterFraction: 0.1,
  concurrency: 16,
  tokenRequestsPerSecond: 20,
  watchIntervalMs: 2_000,
  // While the store's change feed is heard, every row is listed only this often.
  liveFeedWatchIntervalMs: 60_000,
  feedProofMs: 10_000,
  heartbeatMs: 5_000,
  claimLeaseMs: 120_000,
  failureThreshold: 3,
  // A connection whose refresh failed: 5 s, doubling to 10 min, full jitter.
  retry: { initialMs: 5_000, factor: 2, maxMs: 600_000, jitter: 'full' },
  webhookAttempts: 6,
  // 1 s, 2 s, 4 s … up to 5 min between attempts.
  webhookRetry: { initialMs: 1_000, factor: 2, maxMs: 300_000, jitter: 'spread' },
  webhookTimeoutMs: 10_000,
} as const satisfies Record<string, string | number | BackoffPolicy>;

export interface DaemonOptions {
  /** A store, or where one lives (as TOKENKEEPER_STORE). Default: TOKENKEEPER_STORE, else the default SQLite file. */
  store?: TokenStore | string;
  /** The store's encryption key, for every kind of store, as createKeeper takes it (default TOKENKEEPER_KEY). */
  encryptionKey?: Buffer | string;
  host?: string;
  /** 0 picks a free port. Default 0. */
  port?: number;
  env?: NodeJS.ProcessEnv;
  /** Token time (tests pass a FakeClock shared with an emulator). */
  clock?: Clock;
  pacingClock?: Clock;
  /** Sends webhooks, and the keeper's requests as its own `fetch` option does. */
  fetch?: typeof fetch;
  random?: () => number;
  keepaliveMs?: number;
  concurrency?: number;
  tokenRequestsPerSecond?: number;
  watchIntervalMs?: number;
  /** The watch interval while the store's change feed is heard. Default 60 s. */
  liveFeedWatchIntervalMs?: number;
  /** How long a saved refresh's announcement may take before the feed counts as deaf. Default 10 s. */
  feedProofMs?: number;
  heartbeatMs?: number;
  retry?: BackoffPolicy;
  webhooks?: readonly string[];
  /** Consecutive failures before `connection.refresh_failed` is sent. Default 3. */
  failureThreshold?: number;
  webhookAttempts?: number;
  webhookRetry?: BackoffPolicy;
  /** Passed on to the keeper: timeouts, margins, the lock lease, closeGraceMs, providers. */
  keeper?: Omit<
    KeeperOptions,
    'store' | 'encryptionKey' | 'clock' | 'pacingClock' | 'fetch' | 'random' | 'env'
  >;
  /** Where the daemon logs what a caller cannot be told (why it answered 500). Default: stderr. */
  log?: (line: string) => void;
}

export interface Daemon {
  /** `http://host:port` */
  readonly url: string;
  readonly pid: number;
  readonly id: string;
  /** The access secret file, when the secret came from one (it is never shown). */
  readonly secretFile: string | undefined;
  readonly keeper: Keeper;
  readonly keepAlive: KeepAlive;
  /** A link that signs a browser in once, within 15 minutes. */
  dashboardLink(): string;
  /** Graceful: new requests get 503, refreshes under way finish or release their locks. */
  close(): Promise<void>;
}

export async function startDaemon(options: DaemonOptions = {}): Promise<Daemon> {
  const env = options.env ?? process.env;
  const host = options.host ?? SERVE_DEFAULTS.host;
  assertHostAllowed(host, env);
  const clock = options.clock ?? systemClock;
  const pacingClock = options.pacingClock ?? systemClock;
  const random = options.random ?? Math.random;
  const settings = resolveKeeperOptions({ ...options.keeper, clock, random });
  const limits = keepAliveLimits(options);

  let keepAlive: KeepAlive | undefined;
  const connections = (): ViewedConnection[] => keepAlive?.connections() ?? [];
  const metrics = new ServeMetrics(connections, () => clock.now());
  const webhooks = webhookSenderFor(options, env, options.fetch ?? globalThis.fetch, pacingClock, metrics);

  const location = typeof options.store === 'string' ? options.store : env.TOKENKEEPER_STORE || undefined;
  const secret: AccessSecret = await loadAccessSecret(location, env);
  // A store handed over as an object has no location a shell could name.
  const storeArgument = storeArgumentFor(typeof options.store === 'object' ? undefined : location, env);
  const opened = await openDaemonStore(options, env);
  const { store } = opened;
  const keeper = createKeeper({
    ...options.keeper,
    store,
    ...(opened.key ? { encryptionKey: opened.key } : {}),
    ...(opened.previousKeys ? { previousEncryptionKeys: opened.previousKeys } : {}),
    clock,
    pacingClock,
    // Only a fetch given: without one, the keeper's token requests go over node:http.
    ...(options.fetch ? { fetch: options.fetch } : {}),
    random,
    env,
    // The daemon schedules every refresh itself, through the due index.
    proactiveRefresh: false,
  });
  countRefreshes(keeper, metrics, (name) => keepAlive?.get(name)?.provider ?? 'unknown');
  const id = `${process.pid}-${randomUUID()}`;
  keepAlive = new KeepAlive({
    keeper,
    store,
    dueIndex: store.dueIndex ?? new LocalDueIndex(),
    clock,
    pacingClock,
    random,
    policy: {
      refreshTiming: settings.refreshTiming,
      minRefreshIntervalMs: settings.minRefreshIntervalMs,
      keepaliveMs: limits.keepaliveMs,
      keepaliveJitterFraction: SERVE_DEFAULTS.keepaliveJitterFraction,
    },
    concurrency: limits.concurrency,
    tokenRequestsPerSecond: limits.tokenRequestsPerSecond,
    watchIntervalMs: options.watchIntervalMs ?? SERVE_DEFAULTS.watchIntervalMs,
    liveFeedWatchIntervalMs: options.liveFeedWatchIntervalMs ?? SERVE_DEFAULTS.liveFeedWatchIntervalMs,
    feedProofMs: options.feedProofMs ?? SERVE_DEFAULTS.feedProofMs,
    claimLeaseMs: SERVE_DEFAULTS.claimLeaseMs,
    retry: options.retry ?? SERVE_DEFAULTS.retry,
    daemonId: id,
    heartbeatMs: options.heartbeatMs ?? SERVE_DEFAULTS.heartbeatMs,
    alerts: new Alerts(webhookListener(webhooks, storeArgument), limits.failureThreshold),
  });

  let draining = false;
  const sessions = new DashboardSessions();
  const requests = { active: 0 };
  const routes: RouteContext = {
    keeper,
    secret: new SecretDigest(secret.value),
    sessions,
    metrics,
    connections,
    markUsed: (name) => keepAlive?.markUsed(name),
    knows: (name) => keepAlive?.get(name) !== undefined,
    storeAnswers: () => pingStore(store),
    draining: () => draining,
    now: () => clock.now(),
    log: options.log ?? ((line) => process.stderr.write(`${line}\n`)),
    debug: Boolean(env.TOKENKEEPER_DEBUG),
    store: storeArgument,
  };
  const server = createServer((req, res) => {
    requests.active++;
    res.on('close', () => requests.active--);
    handleRequest(routes, req, res).catch((error: unknown) => {
      logFailure(routes, req, error);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end();
    });
  });
  try {
    await keepAlive.start();
    await listen(server, host, options.port ?? 0);
  } catch (error) {
    await keepAlive.stop(0);
    await keeper.close();
    if (opened.owned) await store.close();
    throw error;
  }
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;

  let closing: Promise<void> | undefined;
  return {
    url,
    pid: process.pid,
    id,
    secretFile: secret.file,
    keeper,
    keepAlive,
    dashboardLink: () => `${url}/login?code=${sessions.oneTimeCode()}`,
    close() {
      closing ??= (async () => {
        // Still listening while refreshes finish, so a caller hears 503 rather than a refused connection.
        draining = true;
        // A refresh the provider already answered is saved before the store closes, within one
        // grace for both waits: the keeper's refreshes are the keep-alive's, so a stuck one
        // must not be waited out twice.
        const graceEnds = performance.now() + settings.closeGraceMs;
        await keepAlive.stop(settings.closeGraceMs);
        await keeper.close({ graceMs: Math.max(0, graceEnds - performance.now()) });
        await webhooks?.close(2_000);
        await stopListening(server, requests);
        if (opened.owned) await store.close();
      })();
      return closing;
    },
  };
}

function assertHostAllowed(host: string, env: NodeJS.ProcessEnv): void {
  if (isLoopbackHost(host) || env[SECRET_ENV]) return;
  throw new ConfigError(
    `Listening on ${host} makes the daemon reachable from other hosts: set ${SECRET_ENV} explicitly ` +
      '(e.g. `export TOKENKEEPER_SERVE_SECRET=$(openssl rand -base64 32)`), and put TLS in front of it (see the README).',
  );
}

function keepAliveLimits(options: DaemonOptions) {
  return {
    keepaliveMs: positive(options.keepaliveMs ?? SERVE_DEFAULTS.keepaliveMs, 'keepalive'),
    concurrency: positive(options.concurrency ?? SERVE_DEFAULTS.concurrency, 'concurrency'),
    tokenRequestsPerSecond: positive(
      options.tokenRequestsPerSecond ?? SERVE_DEFAULTS.tokenRequestsPerSecond,
      'token requests per second',
    ),
    failureThreshold: positive(
      options.failureThreshold ?? SERVE_DEFAULTS.failureThreshold,
      'failure threshold',
    ),
  };
}

function webhookSenderFor(
  options: DaemonOptions,
  env: NodeJS.ProcessEnv,
  fetchImpl: typeof fetch,
  pacingClock: Clock,
  metrics: ServeMetrics,
): WebhookSender | undefined {
  const urls = options.webhooks ?? [];
  if (urls.length === 0) return undefined;
  return new WebhookSender({
    urls,
    secret: env[WEBHOOK_SECRET_ENV] ?? '',
    fetch: fetchImpl,
    // Real time: receivers check the timestamp against their own clock.
    clock: pacingClock,
    attempts: options.webhookAttempts ?? SERVE_DEFAULTS.webhookAttempts,
    retry: options.webhookRetry ?? SERVE_DEFAULTS.webhookRetry,
    timeoutMs: SERVE_DEFAULTS.webhookTimeoutMs,
    onDelivery: (result) => metrics.webhookDelivery(result),
  });
}

function webhookListener(webhooks: WebhookSender | undefined, store: StoreArgument): AlertListener {
  const about = (c: ViewedConnection) => ({ connection: c.name, provider: c.provider });
  return {
    reauthRequired: (c) =>
      webhooks?.send('connection.reauth_required', {
        ...about(c),
        command: store.command(`login ${shellWord(c.name)}`),
        ...(store.note ? { commandNote: store.note } : {}),
      }),
    refreshFailed: (c, error) =>
      webhooks?.send('connection.refresh_failed', { ...about(c), failures: c.failures, code: error.code }),
    recovered: (c) => webhooks?.send('connection.recovered', about(c)),
  };
}

/** Every refresh of the daemon's keeper (scheduled, or for a caller) counts, by its result. */
function countRefreshes(keeper: Keeper, metrics: ServeMetrics, providerOf: (name: string) => string): void {
  keeper.on('refresh', (e) => metrics.refresh(providerOf(e.connection), 'ok'));
  keeper.on('token', (e) => metrics.refresh(providerOf(e.connection), 'ok'));
  keeper.on('adopt', (e) => metrics.refresh(providerOf(e.connection), 'adopted'));
  keeper.on('refresh_failed', (e) => metrics.refresh(providerOf(e.connection), 'failed'));
  keeper.on('reauth_required', (e) => metrics.refresh(providerOf(e.connection), 'reauth_required'));
  keeper.on('lock_wait', (e) => metrics.lockWait(e.waitedMs / 1000));
  keeper.on('rate_limit_wait', (e) => metrics.rateLimitWait(e.waitedMs / 1000));
}

interface OpenedDaemonStore {
  store: TokenStore;
  key: Buffer | string | undefined;
  /** Undefined: the keeper takes them from its own options, or TOKENKEEPER_PREVIOUS_KEYS. */
  previousKeys?: Buffer[];
  owned: boolean;
}

/**
 * The daemon reads the store directly (metadata, versions, the due index), and hands the
 * same store to its keeper, so it needs the key the store was opened with.
 */
async function openDaemonStore(options: DaemonOptions, env: NodeJS.ProcessEnv): Promise<OpenedDaemonStore> {
  if (options.store !== undefined && typeof options.store !== 'string') {
    return { store: options.store, key: options.encryptionKey, owned: false };
  }
  const location = options.store ?? (env.TOKENKEEPER_STORE || undefined);
  const previous = options.keeper?.previousEncryptionKeys;
  // A daemon has nothing to do without a key: a lost key file stops it at start, saying which key.
  const { store, key, previousKeys } = await openStoreWithKeys(
    location,
    {
      env,
      ...(options.encryptionKey === undefined ? {} : { encryptionKey: options.encryptionKey }),
      ...(previous === undefined ? {} : { previousEncryptionKeys: previous }),
    },
    { keyMayBeMissing: false },
  );
  return { store, key, previousKeys, owned: true };
}

/** A cheap read that every backend answers: one row that does not exist. */
async function pingStore(store: TokenStore): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('the store did not answer within 2 s')), 2_000);
  });
  try {
    await Promise.race([store.get('tokenkeeper-healthz'), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function isLoopbackHost(host: string): boolean {
  if (host === '::1' || host === '[::1]') return true;
  try {
    return isLoopbackUrl(new URL(`http://${host.includes(':') ? `[${host}]` : host}/`));
  } catch {
    return false;
  }
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/**
 * Stops accepting connections and closes the open ones once no request runs on them (a
 * proxied download may still be streaming), waiting at most 5 s for those. A client may
 * hold a connection open without sending anything on it: it does not delay the exit.
 */
function stopListening(server: Server, requests: { active: number }): Promise<void> {
  return new Promise((resolve) => {
    const started = Date.now();
    const poll = setInterval(() => {
      if (requests.active === 0 || Date.now() - started > 5_000) server.closeAllConnections();
      else server.closeIdleConnections();
    }, 50);
    server.close(() => {
      clearInterval(poll);
      resolve();
    });
    server.closeIdleConnections();
  });
}

function positive(value: number, what: string): number {
  if (!Number.isFinite(value) || value <= 0)
    throw new ConfigError(`The ${what} must be a positive number, got ${value}.`);
  return value;
}
