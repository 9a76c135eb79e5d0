/**
 * `/metrics`: the daemon's Prometheus metrics, on a registry of its own (prom-client).
 * The names and labels are a contract (dashboards and alerts use them). Gauges are
 * computed when scraped, from the daemon's view of the store.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { needsLogin, type ViewedConnection } from './connection-view.js';

export type RefreshResult = 'ok' | 'adopted' | 'failed' | 'reauth_required';
export type DeliveryResult = 'delivered' | 'retried' | 'failed';

export class ServeMetrics {
  readonly registry = new Registry();
  readonly #refreshes: Counter<'provider' | 'result'>;
  readonly #lockWait: Histogram;
  readonly #rateLimitWait: Histogram;
  readonly #proxyRequests: Counter<'connection' | 'code'>;
  readonly #webhookDeliveries: Counter<'result'>;

  constructor(connections: () => Iterable<ViewedConnection>, now: () => number) {
    const registers = [this.registry];
    this.#refreshes = new Counter({
      name: 'tokenkeeper_refreshes_total',
      help: 'Token refreshes by provider and result (ok, adopted, failed, reauth_required).',
      labelNames: ['provider', 'result'],
      registers,
    });
    new Gauge({
      name: 'tokenkeeper_connections',
      help: 'Connections in the store by provider and state.',
      labelNames: ['provider', 'state'],
      registers,
      collect() {
        this.reset();
        for (const c of connections()) {
          this.inc({ provider: c.provider, state: needsLogin(c) ? 'reauth_required' : c.state });
        }
      },
    });
    new Gauge({
      name: 'tokenkeeper_token_seconds_to_expiry',
      help: 'Seconds until the soonest access token of a connection that is kept fresh expires (negative: expired).',
      registers,
      collect() {
        let soonest = Number.POSITIVE_INFINITY;
        for (const c of connections()) {
          if (!needsLogin(c) && typeof c.expiresAt === 'number') soonest = Math.min(soonest, c.expiresAt);
        }
        this.reset();
        if (Number.isFinite(soonest)) this.set((soonest - now()) / 1000);
      },
    });
    this.#lockWait = new Histogram({
      name: 'tokenkeeper_lock_wait_seconds',
      help: 'Time a refresh waited for the connection lock another process held.',
      buckets: [0.001, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60],
      registers,
    });
    this.#rateLimitWait = new Histogram({
      name: 'tokenkeeper_rate_limit_wait_seconds',
      help: "Time a request to a provider's API was held back for a free slot under the provider's rate limit, rather than sent to meet a 429.",
      buckets: [0.01, 0.1, 0.5, 1, 5, 15, 60],
      registers,
    });
    this.#proxyRequests = new Counter({
      name: 'tokenkeeper_proxy_requests_total',
      help: 'Requests through /proxy by connection and HTTP status code.',
      labelNames: ['connection', 'code'],
      registers,
    });
    this.#webhookDeliveries = new Counter({
      name: 'tokenkeeper_webhook_deliveries_total',
      help: 'Webhook delivery attempts by result (delivered, retried, failed: given up).',
      labelNames: ['result'],
      registers,
    });
  }

  refresh(provider: string, result: RefreshResult): void {
    this.#refreshes.inc({ provider, result });
  }

  lockWait(seconds: number): void {
    this.#lockWait.observe(seconds);
  }

  rateLimitWait(seconds: number): void {
    this.#rateLimitWait.observe(seconds);
  }

  proxyRequest(connection: string, code: number): void {
    this.#proxyRequests.inc({ connection, code: String(code) });
  }

  webhookDelivery(result: DeliveryResult): void {
    this.#webhookDeliveries.inc({ result });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
