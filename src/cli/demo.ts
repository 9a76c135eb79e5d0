/**
 * `tokenkeeper demo`: the whole point in twenty seconds, with no account and no
 * server to set up. Emulators of Factus and Factorial run in this process with
 * short-lived tokens and strict rotation. Two keepers (think: two workers of one
 * app) share a temporary encrypted SQLite store and call both APIs while tokens
 * expire, refresh and rotate under them:
 *   - Factus with the password grant,
 *   - Factorial with the authorization code (a loopback redirect, the emulator approving at once),
 *   - Factorial with an API key.
 * The summary shows what the providers saw.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFactorialEmulator, startFactusEmulator } from '../emulators/index.js';
import type { KeeperEvents } from '../events.js';
import { createAuthorizationRequest, readAuthorizationResponse } from '../grants/authorization-code.js';
import { startLoopbackReceiver } from '../grants/loopback-receiver.js';
import { type AuthorizationPrompt, createKeeper, type Keeper } from '../keeper.js';
import { factorialProfile } from '../providers/factorial.js';
import { factusProfile } from '../providers/factus.js';
import { parseCommandArgs } from './args.js';
import { ExitCode } from './exit-codes.js';
import { trackOpenKeeper } from './open-keepers.js';
import type { CliIO } from './output.js';

const usage =
  'tokenkeeper demo [--seconds N]\nRuns against in-process Factus and Factorial emulators; needs no account, network or setup.';

export const options = { seconds: { type: 'string' } } as const;

const ACCESS_TTL_SECONDS = 6;
const REQUEST_INTERVAL_MS = 300;
const EMPLOYEES = '/api/2026-07-01/resources/employees/employees';

const FAILED_LINE = 'Something went wrong above: tokenkeeper should have kept every request valid.';

/**
 * What the run proved, and no more. With strict rotation the provider revokes the old access
 * token the moment one worker refreshes, so the other worker's next request may meet a 401
 * before it adopts the new token: that request is renewed from the store and sent again.
 */
function closingLine(unauthorized: number): string {
  const refreshes = 'each expiry cost one refresh for both workers, and no rotated refresh token was burned.';
  if (unauthorized === 0) return `Every request carried a valid credential; ${refreshes}`;
  return (
    `Every request succeeded. ${unauthorized === 1 ? 'One' : unauthorized} met a 401 because the provider revokes an ` +
    `access token as soon as the other worker replaces it, and ${unauthorized === 1 ? 'was' : 'were'} sent again with ` +
    `the new token from the store; ${refreshes}`
  );
}

interface DemoCall {
  connection: string;
  path: string;
  init: RequestInit;
}

export async function run(argv: string[], io: CliIO): Promise<number> {
  const parsed = parseCommandArgs(argv, options, usage, io);
  if (!parsed) return ExitCode.ok;
  const { values } = parsed;
  const seconds = values.seconds === undefined ? 20 : Number(values.seconds);
  if (!Number.isInteger(seconds) || seconds < 2 || seconds > 600) {
    io.stderr.write('--seconds must be a whole number from 2 to 600.\n');
    return ExitCode.usage;
  }

  const started = Date.now();
  const print = (line: string) =>
    io.stdout.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${line}\n`);
  const dir = await mkdtemp(join(tmpdir(), 'tokenkeeper-demo-'));
  // What to stop, newest first, then the directory goes: once, whichever comes first, the end
  // of the run or Ctrl-C / SIGTERM (command-line.ts closes what is tracked before it exits), so no
  // temporary store or key is left behind.
  const stops: Array<() => Promise<unknown>> = [];
  let cleaning: Promise<void> | undefined;
  const cleanUp = () => {
    cleaning ??= (async () => {
      for (const stop of stops.reverse()) await stop();
      await rm(dir, { recursive: true, force: true });
    })();
    return cleaning;
  };
  const untrack = trackOpenKeeper({ close: cleanUp });

  try {
    const factus = await startFactusEmulator({ accessTtlSeconds: ACCESS_TTL_SECONDS, rotation: 'strict' });
    stops.push(() => factus.stop());
    // The loopback redirect must be registered with the provider, so its port is chosen first.
    const redirectUri = `http://127.0.0.1:${await freeLoopbackPort()}/callback`;
    const factorial = await startFactorialEmulator({
      accessTtlSeconds: ACCESS_TTL_SECONDS + 2,
      rotation: 'strict',
      redirectUris: [redirectUri],
    });
    stops.push(() => factorial.stop());
    const storePath = join(dir, 'tokens.db');
    const workers = ['worker-1', 'worker-2'].map((label) => ({
      label,
      keeper: createKeeper({ store: storePath, refreshMarginSeconds: 2, env: {} }),
    }));
    for (const { keeper } of workers) stops.push(() => keeper.close());

    io.stdout.write(
      `Factus emulator ${factus.url} and Factorial emulator ${factorial.url}: access tokens live ${ACCESS_TTL_SECONDS}-${
        ACCESS_TTL_SECONDS + 2
      }s, refresh tokens rotate and the old ones are revoked.\n` +
        `Two workers share the encrypted store ${storePath} and call both APIs for ${seconds}s.\n\n`,
    );
    for (const { label, keeper } of workers) watch(keeper, label, print);
    const setup = workers[0]!.keeper;

    const { clientId, clientSecret, username, password } = factus.credentials;
    await setup.connect('factus', {
      provider: factusProfile.id,
      baseUrl: factus.url,
      clientId,
      clientSecret,
      username,
      password,
    });
    print('factus: logged in with the password grant');

    await setup.connect(
      'factorial',
      {
        provider: factorialProfile.id,
        baseUrl: factorial.url,
        grant: 'authorization_code',
        clientId: factorial.credentials.clientId,
        clientSecret: factorial.credentials.clientSecret,
        scope: 'read write',
      },
      { authorize: (prompt) => authorizeLikeABrowser(prompt, redirectUri) },
    );
    print('factorial: logged in with the authorization code (the emulator approved at once)');

    await setup.connect('factorial-key', {
      provider: factorialProfile.id,
      baseUrl: factorial.url,
      grant: 'api_key',
      apiKey: factorial.credentials.apiKey,
    });
    print('factorial-key: API key verified with the provider and saved; it does not expire');

    const tally = { sent: 0, ok: 0, failed: 0 };
    const deadline = started + seconds * 1000;
    for (let i = 0; Date.now() < deadline; i++) {
      const worker = workers[i % workers.length]!;
      const call = demoCall(i);
      tally.sent++;
      try {
        const response = await worker.keeper.fetch(call.connection, call.path, call.init);
        await response.arrayBuffer();
        if (response.ok) tally.ok++;
        else {
          tally.failed++;
          print(
            `${worker.label}: ${call.connection} ${call.init.method ?? 'GET'} ${call.path} → HTTP ${response.status}`,
          );
        }
      } catch (error) {
        tally.failed++;
        print(`${worker.label}: ${call.connection} ${call.path} failed: ${(error as Error).message}`);
      }
      await new Promise((resolve) => setTimeout(resolve, REQUEST_INTERVAL_MS));
    }

    const factusStats = factus.stats();
    const factorialStats = factorial.stats();
    const invalidGrant = factusStats.invalidGrant + factorialStats.invalidGrant;
    const elapsed = Math.round((Date.now() - started) / 1000);
    const ok = tally.failed === 0 && invalidGrant === 0;
    io.stdout.write(
      [
        '',
        `Summary after ${elapsed}s`,
        `  API requests:   ${tally.sent} sent, ${tally.ok} succeeded, ${tally.failed} failed`,
        `  Factus saw:     ${factusStats.tokenRequests.password ?? 0} password grant, ${factusStats.tokenRequests.refresh_token ?? 0} refresh_token, ${factusStats.invalidGrant} invalid_grant, ${factusStats.unauthorized} × 401, ${factusStats.rateLimited} × 429`,
        `  Factorial saw:  ${factorialStats.tokenRequests.authorization_code ?? 0} authorization_code, ${factorialStats.tokenRequests.refresh_token ?? 0} refresh_token, ${factorialStats.invalidGrant} invalid_grant, ${factorialStats.unauthorized} × 401, ${factorialStats.rateLimited} × 429`,
        '',
        ok ? closingLine(factusStats.unauthorized + factorialStats.unauthorized) : FAILED_LINE,
        '',
      ].join('\n'),
    );
    return ok ? ExitCode.ok : ExitCode.failure;
  } finally {
    untrack();
    await cleanUp();
  }
}

/** What a person's browser does: open the authorization URL and land on the loopback redirect. */
/** The `authorize` step of connect, with a fetch standing in for the browser. */
async function authorizeLikeABrowser(prompt: AuthorizationPrompt, redirectUri: string) {
  const request = await createAuthorizationRequest({
    authorizationUrl: prompt.authorizationUrl,
    clientId: prompt.clientId,
    redirectUri,
    ...(prompt.scope ? { scope: prompt.scope } : {}),
    pkce: prompt.pkce,
  });
  const receiver = await startLoopbackReceiver({
    redirectUri,
    expectedState: request.state,
    timeoutMs: 10_000,
  });
  try {
    const landing = await fetch(request.url); // the emulator approves and redirects to the receiver
    await landing.arrayBuffer();
    const code = readAuthorizationResponse(request, await receiver.result);
    return { code, redirectUri };
  } finally {
    await receiver.close();
  }
}

function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

function watch(keeper: Keeper, label: string, print: (line: string) => void): void {
  const until = (expiresAt: number | null) =>
    expiresAt === null ? 'never expires' : `valid ${Math.round((expiresAt - Date.now()) / 1000)}s more`;
  keeper.on('refresh', (e: KeeperEvents['refresh']) =>
    print(
      `${e.connection}: ${label} refreshed${e.rotated ? ', refresh token rotated' : ''}; ${until(e.expiresAt)}`,
    ),
  );
  keeper.on('adopt', (e: KeeperEvents['adopt']) =>
    print(`${e.connection}: ${label} took the token the other worker refreshed; ${until(e.expiresAt)}`),
  );
  keeper.on('refresh_failed', (e: KeeperEvents['refresh_failed']) =>
    print(`${e.connection}: ${label} refresh failed: ${e.message}`),
  );
  keeper.on('reauth_required', (e: KeeperEvents['reauth_required']) =>
    print(`${e.connection}: ${label} needs a new login: ${e.reason}`),
  );
  keeper.on('rate_limit_wait', (e: KeeperEvents['rate_limit_wait']) =>
    print(
      `${e.connection}: ${label} held a request back ${(e.waitedMs / 1000).toFixed(1)}s for a free slot under the provider's rate limit, which both workers count together in the store`,
    ),
  );
}

/** A mix of reads and writes on the three connections, like an invoicing and HR app. */
function demoCall(i: number): DemoCall {
  switch (i % 5) {
    case 0:
      return { connection: 'factus', path: '/v1/bills?page=1', init: {} };
    case 1:
      return {
        connection: 'factus',
        path: '/v1/bills/validate',
        init: json({
          numbering_range_id: 8,
          reference_code: `demo-${Date.now()}-${i}`,
          customer: { identification: '123456789', names: 'Cliente Demo', email: 'cliente@example.com' },
          items: [
            { code_reference: 'SKU-1', name: 'Servicio', quantity: 1, price: 50000, tax_rate: '19.00' },
          ],
        }),
      };
    case 2:
      return { connection: 'factorial', path: `${EMPLOYEES}?limit=10`, init: {} };
    case 3:
      return {
        connection: 'factorial',
        path: EMPLOYEES,
        init: json({ first_name: 'Demo', last_name: `Hire ${i}`, email: `hire${i}@example.com` }),
      };
    default:
      return { connection: 'factorial-key', path: `${EMPLOYEES}?limit=10`, init: {} };
  }
}

function json(body: unknown): RequestInit {
  return { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}
