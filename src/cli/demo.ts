/**
 * `tokenkeeper demo`: the whole point in twenty seconds, with no account and no
 * server to set up. A Factus emulator runs in this process with six-second
 * tokens and strict rotation; two keepers (think: two workers of one app) share
 * a temporary SQLite store and call the API while tokens expire, refresh and
 * rotate under them. The summary shows what the provider saw.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFactusEmulator } from '../emulators/factus/factus-emulator.js';
import type { KeeperEvents } from '../events.js';
import { createKeeper, type Keeper } from '../keeper.js';
import { parseCommandArgs } from './args.js';
import { ExitCode } from './exit-codes.js';
import type { CliIO } from './output.js';

const usage =
  'tokenkeeper demo [--seconds N]\nRuns against an in-process Factus emulator; needs no account, network or setup.';

const ACCESS_TTL_SECONDS = 6;
const REQUEST_INTERVAL_MS = 400;

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseCommandArgs(
    argv,
    { seconds: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    usage,
  );
  if (values.help) {
    io.stdout.write(`Usage: ${usage}\n`);
    return ExitCode.ok;
  }
  const seconds = values.seconds === undefined ? 20 : Number(values.seconds);
  if (!Number.isInteger(seconds) || seconds < 2 || seconds > 600) {
    io.stderr.write('--seconds must be a whole number from 2 to 600.\n');
    return ExitCode.usage;
  }

  const started = Date.now();
  const print = (line: string) =>
    io.stdout.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${line}\n`);
  const dir = await mkdtemp(join(tmpdir(), 'tokenkeeper-demo-'));
  const emulator = await startFactusEmulator({ accessTtlSeconds: ACCESS_TTL_SECONDS, rotation: 'strict' });
  const storePath = join(dir, 'tokens.db');
  const workers = ['worker-1', 'worker-2'].map((label) => ({
    label,
    keeper: createKeeper({ store: storePath, refreshMarginSeconds: 2, env: {} }),
  }));

  try {
    io.stdout.write(
      `Factus emulator on ${emulator.url}: ${ACCESS_TTL_SECONDS}s access tokens, refresh tokens rotate and the old ones are revoked.\n` +
        `Two workers share the encrypted store ${storePath} and call the API for ${seconds}s.\n\n`,
    );
    for (const { label, keeper } of workers) watch(keeper, label, print);

    const [first] = workers;
    const { clientId, clientSecret, username, password } = emulator.credentials;
    const info = await first!.keeper.connect('factus-demo', {
      provider: 'factus',
      baseUrl: emulator.url,
      clientId,
      clientSecret,
      username,
      password,
    });
    print(
      `logged in with the password grant; token valid for ${Math.round((info.expiresAt! - info.obtainedAt!) / 1000)}s`,
    );

    const tally = { sent: 0, ok: 0, failed: 0 };
    const deadline = started + seconds * 1000;
    for (let i = 0; Date.now() < deadline; i++) {
      const worker = workers[i % workers.length]!;
      const { path, init } = requestNumber(i);
      tally.sent++;
      try {
        const response = await worker.keeper.fetch('factus-demo', path, init);
        await response.arrayBuffer();
        if (response.ok) tally.ok++;
        else {
          tally.failed++;
          print(`${worker.label}: ${init.method ?? 'GET'} ${path} → HTTP ${response.status}`);
        }
      } catch (error) {
        tally.failed++;
        print(`${worker.label}: ${path} failed: ${(error as Error).message}`);
      }
      await new Promise((resolve) => setTimeout(resolve, REQUEST_INTERVAL_MS));
    }

    const stats = emulator.stats();
    const elapsed = Math.round((Date.now() - started) / 1000);
    io.stdout.write(
      [
        '',
        `Summary after ${elapsed}s`,
        `  API requests:   ${tally.sent} sent, ${tally.ok} succeeded, ${tally.failed} failed`,
        `  token requests: ${stats.tokenRequests.password ?? 0} password (login), ${stats.tokenRequests.refresh_token ?? 0} refresh_token`,
        `  provider saw:   ${stats.invalidGrant} invalid_grant, ${stats.unauthorized} × 401, ${stats.rateLimited} × 429`,
        '',
        tally.failed === 0 && stats.invalidGrant === 0
          ? 'Every request carried a valid token; each expiry cost one refresh for both workers, and no rotated refresh token was burned.'
          : 'Something went wrong above: tokenkeeper should have kept every request valid.',
        '',
      ].join('\n'),
    );
    return tally.failed === 0 && stats.invalidGrant === 0 ? ExitCode.ok : ExitCode.failure;
  } finally {
    for (const { keeper } of workers) await keeper.close();
    await emulator.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

function watch(keeper: Keeper, label: string, print: (line: string) => void): void {
  const until = (expiresAt: number | null) =>
    expiresAt === null ? 'never expires' : `valid ${Math.round((expiresAt - Date.now()) / 1000)}s more`;
  keeper.on('refresh', (e: KeeperEvents['refresh']) =>
    print(`${label}: refreshed${e.rotated ? ', refresh token rotated' : ''}; ${until(e.expiresAt)}`),
  );
  keeper.on('adopt', (e: KeeperEvents['adopt']) =>
    print(`${label}: took the token the other worker refreshed; ${until(e.expiresAt)}`),
  );
  keeper.on('refresh_failed', (e: KeeperEvents['refresh_failed']) =>
    print(`${label}: refresh failed: ${e.message}`),
  );
  keeper.on('reauth_required', (e: KeeperEvents['reauth_required']) =>
    print(`${label}: needs a new login: ${e.reason}`),
  );
}

/** A mix of reads and writes, like an invoicing app. */
function requestNumber(i: number): { path: string; init: RequestInit } {
  switch (i % 3) {
    case 0:
      return { path: '/v1/bills?page=1', init: {} };
    case 1:
      return { path: '/v1/numbering-ranges', init: {} };
    default:
      return {
        path: '/v1/bills/validate',
        init: {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            numbering_range_id: 8,
            reference_code: `demo-${Date.now()}-${i}`,
            customer: { identification: '123456789', names: 'Cliente Demo', email: 'cliente@example.com' },
            items: [
              { code_reference: 'SKU-1', name: 'Servicio', quantity: 1, price: 50000, tax_rate: '19.00' },
            ],
          }),
        },
      };
  }
}
