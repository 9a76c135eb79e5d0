/**
 * The login prompts on a real terminal: `script` (util-linux) gives the CLI a
 * pseudo-terminal, the test types the answers, and what the terminal showed is
 * checked: visible fields echo, secrets do not.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { startFactusEmulator } from '../../src/emulators/factus/factus-emulator.js';
import { cliPath, createCliSandbox } from '../helpers/cli.js';

const hasScript = spawnSync('script', ['--version']).status === 0;

describe('prompts on a terminal', {
  skip: hasScript ? false : 'util-linux `script` is not installed',
}, () => {
  it('asks for missing credentials, hiding the secrets as they are typed', async () => {
    const emulator = await startFactusEmulator();
    const cli = await createCliSandbox();
    try {
      const { clientId, clientSecret, username, password } = emulator.credentials;
      const command = `'${process.execPath}' '${cliPath}' login typed --provider factus --base-url ${emulator.url}`;
      const child = spawn('script', ['-qec', command, '/dev/null'], { env: cli.env, stdio: 'pipe' });
      let screen = '';
      child.stdout.on('data', (chunk) => {
        screen += chunk;
      });
      const answers: Array<[RegExp, string]> = [
        [/Client id: /, clientId],
        [/Client secret: /, clientSecret],
        [/User \(e-mail\): /, username],
        [/Password: /, password],
      ];
      for (const [prompt, answer] of answers) {
        await waitFor(() => prompt.test(screen.slice(screen.lastIndexOf('Factus'))));
        child.stdin.write(`${answer}\r`);
      }
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      assert.equal(code, 0, screen);
      assert.match(screen, /Logged in to factus .* as connection "typed"/);
      assert.ok(screen.includes(clientId), 'the client id is echoed');
      assert.ok(screen.includes(username), 'the user is echoed');
      assert.equal(screen.includes(clientSecret), false, 'the client secret is not echoed');
      assert.equal(screen.includes(password), false, 'the password is not echoed');
      assert.equal(emulator.stats().tokenRequests.password, 1);
    } finally {
      await emulator.stop();
      await cli.cleanup();
    }
  });

  it('a new login of a saved connection asks only for the password; Ctrl-C at a prompt exits 130', async () => {
    const emulator = await startFactusEmulator();
    const { clientId, clientSecret, username, password } = emulator.credentials;
    const cli = await createCliSandbox();
    try {
      const first = await cli.run(['login', 'acme', '--provider', 'factus', '--base-url', emulator.url], {
        env: { FACTUS_CLIENT_ID: clientId, FACTUS_CLIENT_SECRET: clientSecret, FACTUS_USERNAME: username },
        input: '',
      });
      assert.equal(first.code, 2, 'without a terminal the password is missing');
      const saved = await cli.run(['login', 'acme', '--provider', 'factus', '--base-url', emulator.url], {
        env: {
          FACTUS_CLIENT_ID: clientId,
          FACTUS_CLIENT_SECRET: clientSecret,
          FACTUS_USERNAME: username,
          FACTUS_PASSWORD: password,
        },
      });
      assert.equal(saved.code, 0, saved.stderr);

      const again = onTerminal(cli.env, 'login acme');
      await waitFor(() => /Password: /.test(again.screen()));
      again.type(`${password}\r`);
      assert.equal(await again.exit, 0, again.screen());
      assert.doesNotMatch(again.screen(), /Client id|Client secret|User \(e-mail\)/);

      const cancelled = onTerminal(cli.env, 'login acme');
      await waitFor(() => /Password: /.test(cancelled.screen()));
      cancelled.type('\x03');
      assert.equal(await cancelled.exit, 130, cancelled.screen());
    } finally {
      await emulator.stop();
      await cli.cleanup();
    }
  });

  it('a login over a connection of another provider asks before replacing it, and keeps it on no', async () => {
    const emulator = await startFactusEmulator();
    const { clientId, clientSecret, username, password } = emulator.credentials;
    const cli = await createCliSandbox({
      FACTUS_CLIENT_ID: clientId,
      FACTUS_CLIENT_SECRET: clientSecret,
      FACTUS_USERNAME: username,
      FACTUS_PASSWORD: password,
      FACTORIAL_API_KEY: 'any-key',
    });
    try {
      assert.equal(
        (await cli.run(['login', 'acme', '--provider', 'factus', '--base-url', emulator.url])).code,
        0,
      );
      const replace = onTerminal(cli.env, 'login acme --provider factorial --api-key');
      await waitFor(() =>
        /Revoke it and replace it with Factorial \(api key\)\? \[y\/N\]/.test(replace.screen()),
      );
      replace.type('n\r');
      assert.equal(await replace.exit, 2, replace.screen());
      assert.match(replace.screen(), /Kept "acme"/);
      assert.equal((await cli.run(['token', 'acme'])).code, 0);
    } finally {
      await emulator.stop();
      await cli.cleanup();
    }
  });

  it('a login over a connection whose secrets cannot be opened asks first: no keeps it, yes replaces it', async () => {
    const emulator = await startFactusEmulator();
    const { clientId, clientSecret, username, password } = emulator.credentials;
    const firstKey = randomBytes(32).toString('base64');
    const otherKey = randomBytes(32).toString('base64');
    const cli = await createCliSandbox({
      FACTUS_CLIENT_ID: clientId,
      FACTUS_CLIENT_SECRET: clientSecret,
      FACTUS_USERNAME: username,
      FACTUS_PASSWORD: password,
    });
    try {
      const saved = await cli.run(['login', 'acme', '--provider', 'factus', '--base-url', emulator.url], {
        env: { TOKENKEEPER_KEY: firstKey },
      });
      assert.equal(saved.code, 0, saved.stderr);
      const otherHost = { ...cli.env, TOKENKEEPER_KEY: otherKey };
      const question = /Replace "acme" with a new login\? Its old tokens cannot be revoked\. \[y\/N\]/;

      const kept = onTerminal(otherHost, `login acme --base-url ${emulator.url}`);
      await waitFor(() => question.test(kept.screen()));
      assert.match(kept.screen(), /The saved secrets of "acme" cannot be opened:/);
      kept.type('n\r');
      assert.equal(await kept.exit, 2, kept.screen());
      assert.match(kept.screen(), /Kept "acme"\. To keep "acme", set TOKENKEEPER_KEY/);
      assert.equal((await cli.run(['token', 'acme'], { env: { TOKENKEEPER_KEY: firstKey } })).code, 0);

      const replaced = onTerminal(otherHost, `login acme --base-url ${emulator.url}`);
      await waitFor(() => question.test(replaced.screen()));
      replaced.type('y\r');
      assert.equal(await replaced.exit, 0, replaced.screen());
      assert.match(replaced.screen(), /Logged in to factus .* as connection "acme"/);
      assert.equal((await cli.run(['token', 'acme'], { env: { TOKENKEEPER_KEY: otherKey } })).code, 0);
    } finally {
      await emulator.stop();
      await cli.cleanup();
    }
  });
});

/** Runs the CLI on a pseudo-terminal; `screen()` is what the terminal showed so far. */
function onTerminal(env: NodeJS.ProcessEnv, args: string) {
  const child = spawn('script', ['-qec', `'${process.execPath}' '${cliPath}' ${args}`, '/dev/null'], {
    env,
    stdio: 'pipe',
  });
  let screen = '';
  child.stdout.on('data', (chunk) => {
    screen += chunk;
  });
  return {
    screen: () => screen,
    type: (text: string) => child.stdin.write(text),
    exit: new Promise<number | null>((resolve) => child.on('close', resolve)),
  };
}

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('the prompt did not appear');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
