/**
 * A real browser: headless Chromium (Debian's package, driven by playwright-core)
 * signs in on the emulator's consent page, clicks Authorize, and the CLI that
 * waits on its loopback listener finishes the login.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startFactorialEmulator } from '../../src/emulators/factorial/factorial-emulator.js';
import { launchChromium, skipWithoutChromium } from '../helpers/chromium.js';
import { createCliSandbox, factorialBrowserLoginArgs, freePort, startBrowserLogin } from '../helpers/cli.js';

const skip = skipWithoutChromium('the browser login test');

describe('login in a real browser', { skip }, () => {
  it('Chromium authorizes on the consent form and the CLI finishes the login', async () => {
    // First: a browser that cannot start must fail the test before anything is left running.
    const browser = await launchChromium();
    const redirectUri = `http://127.0.0.1:${await freePort()}/callback`;
    const emulator = await startFactorialEmulator({ consent: 'form', redirectUris: [redirectUri] });
    const { clientId, clientSecret } = emulator.credentials;
    const cli = await createCliSandbox({
      FACTORIAL_CLIENT_ID: clientId,
      FACTORIAL_CLIENT_SECRET: clientSecret,
    });
    try {
      const { login, url } = await startBrowserLogin(
        factorialBrowserLoginArgs('browser', emulator, redirectUri),
        cli.env,
      );

      const page = await browser.newPage();
      await page.goto(url);
      assert.match(await page.locator('#client_name').innerText(), /\S/);
      await page.click('#authorize');
      await page.waitForURL((target) => target.href.startsWith(redirectUri));
      assert.match(await page.locator('body').innerText(), /You can close this window/);

      const result = await login.done;
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /as connection "browser"/);
      const whoami = await cli.run(['whoami', 'browser']);
      assert.equal(whoami.code, 0, whoami.stderr);
      assert.match(whoami.stdout, /demo@factorial\.example/);
    } finally {
      await browser.close();
      await emulator.stop();
      await cli.cleanup();
    }
  });
});
