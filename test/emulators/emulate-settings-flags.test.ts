import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runEmulate } from '../../src/cli/emulate.js';

/** Starts `tokenkeeper emulate … --json`, hands the start line to `use`, then stops the emulator. */
async function withEmulator(argv: string[], use: (info: Record<string, string>) => Promise<void>) {
  let stdout = '';
  let stderr = '';
  const controller = new AbortController();
  const running = runEmulate([...argv, '--json'], {
    stdout: { write: (chunk: string) => (stdout += chunk) },
    stderr: { write: (chunk: string) => (stderr += chunk) },
    signal: controller.signal,
  });
  for (let i = 0; i < 500 && !stdout.includes('\n'); i++)
    await new Promise((resolve) => setTimeout(resolve, 10));
  try {
    assert.ok(stdout.includes('\n'), `no start line; stderr: ${stderr}`);
    await use(JSON.parse(stdout.trim()) as Record<string, string>);
  } finally {
    controller.abort();
    assert.equal(await running, 0);
  }
}

describe('tokenkeeper emulate: flags for the new settings', () => {
  test('factorial --app-scopes, --redirect-matching exact, --retired-versions not-found', async () => {
    await withEmulator(
      [
        'factorial',
        '--app-scopes',
        'employees documents',
        '--redirect-matching',
        'exact',
        '--retired-versions',
        'not-found',
      ],
      async (info) => {
        const authorize = (params: Record<string, string>) =>
          fetch(
            `${info.authorizeUrl}?${new URLSearchParams({ client_id: info.clientId ?? '', response_type: 'code', ...params })}`,
            {
              redirect: 'manual',
            },
          );
        const otherPort = await authorize({ redirect_uri: 'http://127.0.0.1:49152/callback' });
        assert.equal(otherPort.status, 400);
        const legacy = await authorize({ redirect_uri: 'http://127.0.0.1:8765/callback', scope: 'read' });
        assert.match(legacy.headers.get('location') ?? '', /error=invalid_scope/);
        const retired = await fetch(`${info.url}/api/2025-04-01/resources/employees/employees`, {
          headers: { 'x-api-key': info.apiKey ?? '' },
        });
        assert.equal(retired.status, 404);
      },
    );
  });

  test('factus --user-rights none and --dian-pending-sends; --rotation on-first-use is accepted', async () => {
    await withEmulator(
      ['factus', '--user-rights', 'none', '--dian-pending-sends', '1', '--rotation', 'on-first-use'],
      async (info) => {
        const token = await fetch(info.tokenUrl ?? '', {
          method: 'POST',
          body: new URLSearchParams({
            grant_type: 'password',
            client_id: info.clientId ?? '',
            client_secret: info.clientSecret ?? '',
            username: info.username ?? '',
            password: info.password ?? '',
          }),
        }).then((response) => response.json() as Promise<{ access_token: string }>);
        const bills = await fetch(`${info.url}/v2/bills`, {
          headers: { authorization: `Bearer ${token.access_token}` },
        });
        assert.equal(bills.status, 403);
      },
    );
  });

  test('bad values are refused before anything starts', async () => {
    for (const [argv, message] of [
      [['factus', '--user-rights', 'some'], /--user-rights must be one of all, none/],
      [['factus', '--dian-pending-sends', 'some'], /--dian-pending-sends must be a whole number/],
      [['factorial', '--redirect-matching', 'fuzzy'], /--redirect-matching must be one of/],
      [['factus', '--app-scopes', 'employees'], /--app-scopes is not an option of the factus emulator/],
    ] as const) {
      let stderr = '';
      const code = await runEmulate([...argv], {
        stdout: { write: () => true },
        stderr: { write: (chunk: string) => (stderr += chunk) },
      });
      assert.equal(code, 2, argv.join(' '));
      assert.match(stderr, message);
    }
  });
});
