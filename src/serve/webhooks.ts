/**
 * Webhooks signed by the Standard Webhooks specification (standardwebhooks.com):
 * `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature`
 * (`v1,` + base64 HMAC-SHA256 of `id.timestamp.body` with the decoded secret).
 * Payloads name the connection and say what happened; they never carry a secret.
 *
 * A failed delivery (network error, timeout, non-2xx) is retried with back-off, up to
 * `attempts` tries; deliveries run in the background and never hold up a refresh.
 */
import { createHmac, randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import { ConfigError } from '../errors.js';
import { type BackoffPolicy, backoffDelay } from '../http/backoff.js';
import { settledWithin } from '../settled-within.js';
import type { DeliveryResult } from './metrics.js';

export const WEBHOOK_SECRET_ENV = 'TOKENKEEPER_WEBHOOK_SECRET';

export type WebhookEventType =
  | 'connection.reauth_required'
  | 'connection.refresh_failed'
  | 'connection.recovered';

export interface WebhookOptions {
  urls: readonly string[];
  /** `whsec_` followed by base64, as Standard Webhooks libraries take it. */
  secret: string;
  fetch: typeof fetch;
  clock: Pick<Clock, 'now' | 'sleep'>;
  attempts: number;
  retry: BackoffPolicy;
  timeoutMs: number;
  onDelivery(result: DeliveryResult): void;
}

/** The signing key: `whsec_<base64>` (or the base64 alone), at least 24 bytes. */
export function parseWebhookSecret(text: string | undefined): Buffer {
  const hint = `Set ${WEBHOOK_SECRET_ENV} to a signing secret such as whsec_$(openssl rand -base64 32).`;
  if (!text?.trim()) throw new ConfigError(`--webhook needs a signing secret. ${hint}`);
  const base64 = text.trim().replace(/^whsec_/, '');
  const key = /^[A-Za-z0-9+/]+={0,2}$/.test(base64) ? Buffer.from(base64, 'base64') : Buffer.alloc(0);
  if (key.length < 24) throw new ConfigError(`${WEBHOOK_SECRET_ENV} is not a usable signing secret. ${hint}`);
  return key;
}

export function signWebhook(key: Buffer, id: string, timestampSeconds: number, body: string): string {
  const digest = createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`).digest('base64');
  return `v1,${digest}`;
}

export class WebhookSender {
  readonly #key: Buffer;
  readonly #pending = new Set<Promise<void>>();
  #stopped = false;

  constructor(private readonly options: WebhookOptions) {
    this.#key = parseWebhookSecret(options.secret);
    for (const url of options.urls) checkWebhookUrl(url);
  }

  send(type: WebhookEventType, data: Record<string, unknown>): void {
    const body = JSON.stringify({ type, timestamp: new Date(this.options.clock.now()).toISOString(), data });
    const id = `msg_${randomUUID()}`;
    for (const url of this.options.urls) {
      const delivery = this.#deliver(url, id, body).finally(() => this.#pending.delete(delivery));
      this.#pending.add(delivery);
    }
  }

  /** Stops retrying and waits (at most `graceMs`) for deliveries under way. */
  async close(graceMs: number): Promise<void> {
    this.#stopped = true;
    await settledWithin([...this.#pending], graceMs);
  }

  async #deliver(url: string, id: string, body: string): Promise<void> {
    const { attempts, retry, clock, onDelivery } = this.options;
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0) await clock.sleep(backoffDelay(retry, attempt - 1, Math.random));
      if (this.#stopped && attempt > 0) break;
      if (await this.#post(url, id, body)) {
        onDelivery('delivered');
        return;
      }
      if (attempt + 1 < attempts && !this.#stopped) onDelivery('retried');
    }
    onDelivery('failed');
  }

  async #post(url: string, id: string, body: string): Promise<boolean> {
    // Signed anew for every attempt: receivers refuse old timestamps.
    const timestamp = Math.floor(this.options.clock.now() / 1000);
    try {
      const response = await this.options.fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'webhook-id': id,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': signWebhook(this.#key, id, timestamp, body),
        },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      await response.body?.cancel();
      return response.status >= 200 && response.status < 300;
    } catch {
      return false;
    }
  }
}

function checkWebhookUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(
      `--webhook ${JSON.stringify(url)} is not a URL; give one such as https://example.com/hooks.`,
    );
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new ConfigError(`--webhook must be an http or https URL, got ${parsed.protocol}.`);
  }
}
