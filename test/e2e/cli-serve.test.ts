/**
 * `tokenkeeper serve` as a user runs it: the built CLI in an isolated home and store,
 * next to the CLI's other commands on the same store, and stopped by a signal in the
 * middle of a refresh.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startFactusEmulator } from '../../src/emulators/factus/factus-emulator.js';
import { type CliSandbox, cliPath, createCliSandbox } from '../helpers/cli.js';

interface RunningServe {
  child: ChildProcess;
  start: { url: string; pid: number; dashboard: string; secretFile?: string };
  output(): string;
  exited: Promise<number | null>;
}

async function startServe(
  sandbox: CliSandbox,
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<RunningServe> {
  const child = spawn(process.execPath, [cliPath, 'serve', '--json', ...args], {
    env: { ...sandbox.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const line = await new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (chunk) => {
      stdout += chunk;
      const end = stdout.indexOf('\n');
      if (end >= 0) resolve(stdout.slice(0, end));
    });
    void exited.then((code) => reject(new Error(`serve exited ${code} before its start line: ${stderr}`)));
  });
  return { child, start: JSON.parse(line), output: () => stdout + stderr, exited };
}

function secretOf(serve: RunningServe): string {
  return readFileSync(serve.start.secretFile as string, 'utf8').trim();
}

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await sleep(100);
  }
}

async function factusSandbox(accessTtlSeconds: number) {
  const emulator = await startFactusEmulator({ accessTtlSeconds, rotation: 'strict' });
  const sandbox = await createCliSandbox({
    FACTUS_CLIENT_ID: emulator.credentials.clientId,
    FACTUS_CLIENT_SECRET: emulator.credentials.clientSecret,
    FACTUS_USERNAME: emulator.credentials.username,
    FACTUS_PASSWORD: emulator.credentials.password,
  });
  const login = () => sandbox.run(['login', 'acme', '--provider', 'factus', '--base-url', emulator.url]);
  return { emulator, sandbox, login };
}

describe('tokenkeeper serve (CLI)', () => {
  it('prints one JSON start line, keeps its secret in a 0600 file beside the store, and shares the store with the CLI', async () => {
    const { emulator, sandbox, login } = await factusSandbox(6);
    let serve: RunningServe | undefined;
    try {
      serve = await startServe(sandbox, ['--port', '0']);
      const { url, pid, dashboard, secretFile } = serve.start;
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(pid, serve.child.pid);
      assert.ok(dashboard.startsWith(`${url}/login?code=`));
      assert.equal(secretFile, join(dirname(sandbox.storePath), 'serve-secret'));
      assert.equal(statSync(secretFile as string).mode & 0o777, 0o600);
      const secret = secretOf(serve);
      const call = (path: string) =>
        fetch(`${url}${path}`, { headers: { authorization: `Bearer ${secret}` } });
      assert.equal((await fetch(`${url}/v1/connections`)).status, 401);

      // A login by the CLI is picked up without a restart.
      assert.equal((await login()).code, 0);
      await until('the daemon lists the new connection', async () => {
        const { connections } = (await (await call('/v1/connections')).json()) as {
          connections: { name: string }[];
        };
        return connections.some((c) => c.name === 'acme') || undefined;
      });
      // The daemon refreshes the 6-second token before it expires; the CLI then uses what it saved.
      await until(
        'the daemon refreshed',
        async () => (emulator.stats().tokenRequests.refresh_token ?? 0) >= 1 || undefined,
      );
      const daemonToken = (
        (await (await call('/v1/connections/acme/token')).json()) as { access_token: string }
      ).access_token;
      const requestsBefore = emulator.stats().tokenRequests.total;
      const cliToken = await sandbox.run(['token', 'acme']);
      assert.equal(cliToken.code, 0, cliToken.stderr);
      assert.equal(cliToken.stdout.trim(), daemonToken);
      assert.equal(
        emulator.stats().tokenRequests.total,
        requestsBefore,
        'the CLI took the daemon’s token from the store',
      );

      // `status` in another process sees the daemon's heartbeat in the store.
      const kept = await sandbox.run(['status', 'acme', '--json']);
      assert.equal(kept.code, 0, kept.stderr);
      assert.equal((JSON.parse(kept.stdout) as { keptFreshByDaemon?: boolean }).keptFreshByDaemon, true);
      assert.match((await sandbox.run(['status', 'acme'])).stdout, /kept fresh by a daemon/);

      // A logout by the CLI is picked up too.
      assert.equal((await sandbox.run(['logout', 'acme'])).code, 0);
      await until('the daemon drops the connection', async () =>
        (await call('/v1/connections/acme/token')).status === 404 ? true : undefined,
      );
      assert.ok(!serve.output().includes(secret), 'the secret is never printed');
      assert.ok(!sandbox.transcript().includes(secret));
    } finally {
      serve?.child.kill('SIGKILL');
      await serve?.exited;
      await sandbox.cleanup();
      await emulator.stop();
    }
  });

  it('status stops saying "kept fresh by a daemon" once the daemon is gone', async () => {
    const { emulator, sandbox, login } = await factusSandbox(3600);
    try {
      assert.equal((await login()).code, 0);
      const serve = await startServe(sandbox, ['--port', '0']);
      const statusJson = async () =>
        JSON.parse((await sandbox.run(['status', 'acme', '--json'])).stdout) as {
          keptFreshByDaemon?: boolean;
        };
      await until('status sees the daemon', async () =>
        (await statusJson()).keptFreshByDaemon ? true : undefined,
      );
      serve.child.kill('SIGTERM');
      assert.equal(await serve.exited, 143);
      await until(
        'status no longer sees it',
        async () => ((await statusJson()).keptFreshByDaemon === false ? true : undefined),
        30_000,
      );
      assert.match((await sandbox.run(['status', 'acme'])).stdout, /refreshes on next use/);
    } finally {
      await sandbox.cleanup();
      await emulator.stop();
    }
  });

  it('on SIGTERM in the middle of a refresh: new requests get 503, the refresh is saved, exit 143', async () => {
    const { emulator, sandbox, login } = await factusSandbox(4);
    let serve: RunningServe | undefined;
    try {
      assert.equal((await login()).code, 0);
      // The daemon's refresh comes due about 2 s after the login, and the provider takes 2 s to answer it.
      emulator.faults.add({ point: 'token', delayMs: 2_000, count: 1 });
      serve = await startServe(sandbox);
      const secret = secretOf(serve);
      await until(
        'the refresh is under way',
        async () => (emulator.stats().faults.token ?? 0) >= 1 || undefined,
      );
      serve.child.kill('SIGTERM');
      await sleep(200);
      const during = await fetch(`${serve.start.url}/v1/connections`, {
        headers: { authorization: `Bearer ${secret}` },
      });
      assert.equal(during.status, 503);
      assert.equal(await serve.exited, 143);
      assert.match(serve.output(), /Stopping: new requests get 503/);
      assert.doesNotMatch(serve.output(), /Cancelled/, 'a daemon asked to stop is not cancelled');
      assert.equal(emulator.stats().tokenRequests.refresh_token, 1);
      // The rotated refresh token was saved before the daemon exited: the next refresh works.
      const next = await sandbox.run(['refresh', 'acme']);
      assert.equal(next.code, 0, next.stderr);
      assert.equal(emulator.stats().invalidGrant, 0);
      assert.equal(emulator.stats().tokenRequests.password, 1, 'only the login used the password');
    } finally {
      serve?.child.kill('SIGKILL');
      await serve?.exited;
      await sandbox.cleanup();
      await emulator.stop();
    }
  });

  it('refuses another host without TOKENKEEPER_SERVE_SECRET, saying what to set', async () => {
    const sandbox = await createCliSandbox();
    try {
      const result = await sandbox.run(['serve', '--host', '0.0.0.0', '--port', '0']);
      assert.equal(result.code, 2);
      assert.match(result.stderr, /TOKENKEEPER_SERVE_SECRET/);
      const badPort = await sandbox.run(['serve', '--port', 'eighty']);
      assert.equal(badPort.code, 2);
      assert.match(badPort.stderr, /--port must be a whole number/);
      const short = await sandbox.run(['serve'], { env: { TOKENKEEPER_SERVE_SECRET: 'short' } });
      assert.equal(short.code, 2);
      assert.match(short.stderr, /at least 16 characters/);

      // A port another program holds.
      const holder = createServer();
      await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
      const { port } = holder.address() as AddressInfo;
      const busy = await sandbox.run(['serve', '--port', String(port)]);
      holder.close();
      assert.equal(busy.code, 2);
      assert.match(busy.stderr, new RegExp(`Port ${port} is in use; choose another with --port`));

      // A secret file others can read is refused, not used.
      const secretFile = join(dirname(sandbox.storePath), 'serve-secret');
      chmodSync(secretFile, 0o644);
      const readable = await sandbox.run(['serve']);
      assert.equal(readable.code, 2);
      assert.match(readable.stderr, new RegExp(`chmod 600 ${secretFile}`));
    } finally {
      await sandbox.cleanup();
    }
  });
});
