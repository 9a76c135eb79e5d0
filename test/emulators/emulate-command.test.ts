import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runEmulate } from '../../src/cli/emulate.js';

function capture() {
  let stdout = '';
  let stderr = '';
  return {
    io: {
      stdout: { write: (chunk: string) => (stdout += chunk) },
      stderr: { write: (chunk: string) => (stderr += chunk) },
    },
    out: () => stdout,
    err: () => stderr,
  };
}

describe('runEmulate arguments', () => {
  const bad: Array<[string[], RegExp]> = [
    [[], /which provider\? Give one of: factus/],
    [['acme'], /unknown provider "acme"; valid providers: factus/],
    [['factus', '--port', 'abc'], /--port must be a whole number from 0 to 65535/],
    [['factus', '--port', '70000'], /--port must be a whole number from 0 to 65535/],
    [['factus', '--rotation', 'sometimes'], /--rotation must be one of strict, grace, off/],
    [['factus', '--access-ttl', '0'], /--access-ttl must be a whole number 1 or more/],
    [['factus', '--rate-limit', '-3'], /--rate-limit/],
    [['factus', '--bogus'], /Unknown flag --bogus\./],
    [['factus', 'extra'], /unexpected argument "extra"/],
  ];
  for (const [argv, message] of bad) {
    test(`${JSON.stringify(argv)} is bad usage: exit 2 and a message on stderr`, async () => {
      const { io, out, err } = capture();
      assert.equal(await runEmulate(argv, io), 2);
      assert.match(err(), message);
      assert.match(err(), /Usage: tokenkeeper emulate <provider>/);
      assert.equal(out(), '');
    });
  }

  test('--help prints the usage on stdout and exits 0', async () => {
    const { io, out } = capture();
    assert.equal(await runEmulate(['--help'], io), 0);
    assert.match(out(), /--rotation strict\|grace\|off/);
  });

  test('--json prints exactly one JSON line, serves until aborted, then stops and returns 0', async () => {
    const { io, out } = capture();
    const controller = new AbortController();
    const running = runEmulate(['factus', '--json', '--rotation', 'off', '--access-ttl', '120'], {
      ...io,
      signal: controller.signal,
    });
    while (!out().includes('\n')) await new Promise((resolve) => setTimeout(resolve, 10));
    const lines = out().trimEnd().split('\n');
    assert.equal(lines.length, 1);
    const info = JSON.parse(lines[0]!) as Record<string, string>;
    assert.deepEqual(Object.keys(info), [
      'provider',
      'url',
      'tokenUrl',
      'clientId',
      'clientSecret',
      'username',
      'password',
    ]);
    assert.equal(info.provider, 'factus');
    const reply = await fetch(info.tokenUrl!, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'password',
        client_id: info.clientId!,
        client_secret: info.clientSecret!,
        username: info.username!,
        password: info.password!,
      }),
    });
    const body = (await reply.json()) as Record<string, unknown>;
    assert.equal(body.expires_in, 120);
    controller.abort();
    assert.equal(await running, 0);
    await assert.rejects(fetch(info.tokenUrl!));
  });

  test('the human banner shows the URLs, credentials, export lines and the login command', async () => {
    const { io, out, err } = capture();
    const controller = new AbortController();
    const running = runEmulate(['factus'], { ...io, signal: controller.signal });
    while (!out().includes('Ctrl+C')) await new Promise((resolve) => setTimeout(resolve, 10));
    const text = out();
    const url = text.match(/URL:\s+(http:\/\/127\.0\.0\.1:\d+)\n/)?.[1];
    assert.ok(url);
    assert.match(text, new RegExp(`token URL:\\s+${url}/oauth/token`));
    assert.match(text, /^export FACTUS_CLIENT_ID=factus-emulator-client$/m);
    assert.match(text, /^export FACTUS_CLIENT_SECRET=\S+$/m);
    assert.match(text, /^export FACTUS_USERNAME=demo@factus\.example$/m);
    assert.match(text, /^export FACTUS_PASSWORD=\S+$/m);
    assert.match(text, new RegExp(`^tokenkeeper login \\S+ --provider factus --base-url ${url}$`, 'm'));
    controller.abort();
    assert.equal(await running, 0);
    assert.match(err(), /stopped/);
  });

  test('a port already in use is reported and exits 1', async () => {
    const { io: first, out } = capture();
    const controller = new AbortController();
    const running = runEmulate(['factus', '--json'], { ...first, signal: controller.signal });
    while (!out().includes('\n')) await new Promise((resolve) => setTimeout(resolve, 10));
    const port = new URL((JSON.parse(out()) as { url: string }).url).port;
    const { io: second, err } = capture();
    assert.equal(await runEmulate(['factus', '--port', port], second), 1);
    assert.match(err(), /already in use/);
    controller.abort();
    assert.equal(await running, 0);
  });
});
