/**
 * Webhooks from the daemon, received over real HTTP and verified with the Standard
 * Webhooks reference library: reauth_required, refresh_failed after the configured
 * number of failures, recovered; a failed delivery is retried.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { parsePrometheusText } from './prometheus-text.js';
import { connectFactorial, connectFactus, eventually, startServeRig } from './serve-rig.js';

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A webhook receiver that answers 500 to the first `failFirst` deliveries. */
async function startReceiver(failFirst = 0) {
  const received: Received[] = [];
  let attempts = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      attempts += 1;
      if (attempts <= failFirst) {
        res.writeHead(500).end();
        return;
      }
      received.push({ headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    received,
    attempts: () => attempts,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function verified(secret: string, delivery: Received): { type: string; data: Record<string, unknown> } {
  const headers = {
    'webhook-id': String(delivery.headers['webhook-id']),
    'webhook-timestamp': String(delivery.headers['webhook-timestamp']),
    'webhook-signature': String(delivery.headers['webhook-signature']),
  };
  // The library throws on a bad signature; a changed body must not verify.
  assert.throws(() => new Webhook(secret).verify(`${delivery.body} `, headers));
  return new Webhook(secret).verify(delivery.body, headers) as {
    type: string;
    data: Record<string, unknown>;
  };
}

const RETRY_A_MINUTE = { initialMs: 60_000, factor: 1, maxMs: 60_000, jitter: 'none' } as const;
const QUICK_WEBHOOK_RETRY = { initialMs: 50, factor: 1, maxMs: 50, jitter: 'none' } as const;

/**
 * A receiver and a daemon (on the store at `location`, if given) whose Factorial refresh token
 * dies at 30 minutes: `people` connected, the clock run past that death until reauth_required
 * was delivered. close() closes both; a failure on the way closes them itself.
 */
async function reauthRequiredRig(location?: string) {
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  const receiver = await startReceiver();
  const rig = await startServeRig({
    location,
    factorial: { accessTtlSeconds: 3600, refreshTtlSeconds: 1800 },
    env: { TOKENKEEPER_WEBHOOK_SECRET: secret },
    daemon: { webhooks: [receiver.url], webhookRetry: QUICK_WEBHOOK_RETRY },
  }).catch(async (error: unknown) => {
    await receiver.close();
    throw error;
  });
  const close = async () => {
    await rig.close();
    await receiver.close();
  };
  try {
    await connectFactorial(rig, 'people');
    await rig.daemon.keepAlive.sync();
    await rig.advance(60 * 60_000, 5 * 60_000); // the refresh token died at 30 minutes
    await eventually(() => receiver.received.length >= 1, 'reauth_required is delivered');
  } catch (error) {
    await close();
    throw error;
  }
  return { secret, receiver, rig, close };
}

describe('webhooks', () => {
  it('refresh_failed after the configured failures in a row, then recovered; a failed delivery is retried', async () => {
    const secret = `whsec_${randomBytes(32).toString('base64')}`;
    const receiver = await startReceiver(1);
    const rig = await startServeRig({
      factus: { accessTtlSeconds: 600 },
      env: { TOKENKEEPER_WEBHOOK_SECRET: secret },
      daemon: {
        webhooks: [receiver.url],
        failureThreshold: 2,
        retry: RETRY_A_MINUTE,
        webhookRetry: QUICK_WEBHOOK_RETRY,
      },
    });
    try {
      await connectFactus(rig, 'acme');
      await rig.daemon.keepAlive.sync();
      rig.factus.faults.add({ point: 'token', status: 503, count: 2 });
      await rig.advance(10 * 60_000, 60_000); // due (and failing) before the 10-minute token expires
      await eventually(() => receiver.received.length >= 1, 'refresh_failed is delivered');
      assert.equal(rig.daemon.keepAlive.get('acme')?.failures, 2);
      await rig.advance(2 * 60_000, 60_000);
      await eventually(() => receiver.received.length >= 2, 'recovered is delivered');

      const [failed, recovered] = receiver.received.map((delivery) => verified(secret, delivery));
      assert.equal(failed?.type, 'connection.refresh_failed');
      assert.deepEqual(failed?.data, {
        connection: 'acme',
        provider: 'factus',
        failures: 2,
        code: 'TOKEN_RESPONSE',
      });
      assert.equal(recovered?.type, 'connection.recovered');
      assert.deepEqual(recovered?.data, { connection: 'acme', provider: 'factus' });
      assert.equal(receiver.attempts(), 3, 'the first delivery failed and was sent again');
      const { clientSecret, password } = rig.factus.credentials;
      for (const delivery of receiver.received) {
        for (const hidden of [clientSecret, password, secret]) assert.ok(!delivery.body.includes(hidden));
        assert.ok(!/eyJ[\w-]+\.[\w-]+/.test(delivery.body), 'no token in a payload');
      }

      const metrics = parsePrometheusText(await (await rig.call('/metrics')).text());
      assert.equal(metrics.value('tokenkeeper_webhook_deliveries_total', { result: 'retried' }), 1);
      assert.equal(metrics.value('tokenkeeper_webhook_deliveries_total', { result: 'delivered' }), 2);
      assert.equal(metrics.value('tokenkeeper_refreshes_total', { provider: 'factus', result: 'failed' }), 2);
    } finally {
      await rig.close();
      await receiver.close();
    }
  });

  it('the command that fixes a connection names the daemon’s store when it is not the default one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokenkeeper-fleet '));
    const location = join(dir, 'fleet.db'); // a space in the path: the command quotes it
    try {
      const { secret, receiver, rig, close } = await reauthRequiredRig(location);
      try {
        const command = `tokenkeeper --store '${location}' login people`;
        assert.equal(verified(secret, receiver.received[0] as Received).data.command, command);

        const token = await rig.call('/v1/connections/people/token');
        assert.equal(token.status, 409);
        const { error } = (await token.json()) as { error: { message: string } };
        assert.ok(error.message.includes(`\`${command}\``), error.message);

        const page = await (await rig.call('/')).text();
        const fix = /<code class="fix">([^<]*)<\/code>/.exec(page)?.[1]?.replaceAll('&#39;', "'");
        assert.equal(fix, command);
      } finally {
        await close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reauth_required names the command that fixes it, and a new login sends recovered', async () => {
    const { secret, receiver, rig, close } = await reauthRequiredRig();
    try {
      const reauth = verified(secret, receiver.received[0] as Received);
      assert.equal(reauth.type, 'connection.reauth_required');
      assert.deepEqual(reauth.data, {
        connection: 'people',
        provider: 'factorial',
        command: 'tokenkeeper login people',
      });
      const token = await rig.call('/v1/connections/people/token');
      assert.equal(token.status, 409);
      const { error } = (await token.json()) as { error: { code: string; message: string } };
      assert.equal(error.code, 'REAUTH_REQUIRED');
      assert.match(error.message, /tokenkeeper login people/);
      const metrics = parsePrometheusText(await (await rig.call('/metrics')).text());
      assert.equal(
        metrics.value('tokenkeeper_connections', { provider: 'factorial', state: 'reauth_required' }),
        1,
      );
      assert.equal(
        metrics.value('tokenkeeper_refreshes_total', { provider: 'factorial', result: 'reauth_required' }),
        1,
      );

      await connectFactorial(rig, 'people');
      await eventually(() => receiver.received.length >= 2, 'recovered is delivered after the login');
      const recovered = verified(secret, receiver.received[1] as Received);
      assert.equal(recovered.type, 'connection.recovered');
      assert.equal(receiver.received.length, 2, 'each change is reported once');
    } finally {
      await close();
    }
  });

  it('refuses --webhook without a signing secret, saying how to make one', async () => {
    await assert.rejects(
      startServeRig({ daemon: { webhooks: ['http://127.0.0.1:9/hooks'] } }),
      /TOKENKEEPER_WEBHOOK_SECRET.*whsec_/,
    );
  });
});
