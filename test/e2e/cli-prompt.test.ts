/**
 * The login prompts on a real terminal: `script` (util-linux) gives the CLI a
 * pseudo-terminal, the test types the answers, and what the terminal showed is
 * checked: visible fields echo, secrets do not.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
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
});

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('the prompt did not appear');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
