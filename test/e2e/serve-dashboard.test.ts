/**
 * The daemon's dashboard in headless Chromium (Debian's package, driven by
 * playwright-core): the one-time link signs the browser in, the page shows each
 * connection's state, a live time to expiry and the command that fixes a connection
 * needing a new login; the strict CSP lets only the daemon's own script run.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { launchChromium, skipWithoutChromium } from '../helpers/chromium.js';
import { connectFactorial, connectFactus, SECRET, startServeRig } from '../serve/serve-rig.js';

const skip = skipWithoutChromium('the dashboard test');

describe('the dashboard in a real browser', { skip }, () => {
  it('signs in with the one-time link and shows state, a live countdown and the fix command', async () => {
    // First: a browser that cannot start must fail the test before anything is left running.
    const browser = await launchChromium();
    const rig = await startServeRig({ factorial: { accessTtlSeconds: 3600, refreshTtlSeconds: 1800 } });
    const dir = await mkdtemp(join(tmpdir(), 'tk-dashboard-'));
    try {
      await connectFactorial(rig, 'people');
      await rig.daemon.keepAlive.sync();
      await rig.advance(60 * 60_000, 5 * 60_000); // its refresh token lapsed: it needs a new login
      await connectFactus(rig, 'acme'); // a fresh one
      await rig.daemon.keepAlive.sync();

      const context = await browser.newContext();
      const page = await context.newPage();
      const problems: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error') problems.push(message.text());
      });
      page.on('pageerror', (error) => problems.push(error.message));
      const link = rig.daemon.dashboardLink();
      const response = await page.goto(link);
      assert.equal(new URL(page.url()).pathname, '/', 'the link lands on the dashboard');
      assert.equal(response?.status(), 200);
      const csp = response?.headers()['content-security-policy'] ?? '';
      assert.match(csp, /script-src 'self'/);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
      const cookie = (await context.cookies()).find((c) => c.name === 'tokenkeeper_session');
      assert.ok(cookie?.httpOnly, 'the session cookie is HttpOnly');
      assert.equal(cookie?.sameSite, 'Strict');

      const acme = page.locator('tr[data-connection="acme"]');
      const people = page.locator('tr[data-connection="people"]');
      assert.match(await acme.innerText(), /factus\s+ok/);
      assert.match(await people.innerText(), /needs a new login/);
      assert.equal(await people.locator('code.fix').innerText(), 'tokenkeeper login people');
      assert.equal(await acme.locator('code.fix').count(), 0);
      assert.match(await people.innerText(), /REAUTH_REQUIRED/);

      // Live: the script counts the time to expiry down in place.
      const countdown = acme.locator('.countdown');
      const first = await countdown.innerText();
      assert.match(first, /^(\d+h )?\d+m \d\ds$/);
      const deadline = Date.now() + 5_000;
      while ((await countdown.innerText()) === first) {
        assert.ok(Date.now() < deadline, 'the countdown did not move');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }

      const shot = process.env.DASHBOARD_SCREENSHOT ?? join(dir, 'dashboard.png');
      await page.screenshot({ path: shot, fullPage: true });
      const png = await readFile(shot);
      assert.ok(png.subarray(1, 4).toString() === 'PNG' && png.length > 5_000, 'a real screenshot');
      assert.deepEqual(problems, [], 'no script error and no CSP violation');
      const html = await page.content();
      assert.ok(!html.includes(SECRET), 'the page never shows the secret');
      assert.ok(!html.includes(await rig.cli.getAccessToken('acme')), 'nor a token');

      // The link works once; another browser signs in with the form.
      const again = await (await browser.newContext()).newPage();
      await again.goto(link);
      assert.match(await again.locator('body').innerText(), /used already or has expired/);
      await again.fill('input[name="secret"]', 'not-the-secret-0123456789');
      await again.click('button[type="submit"]');
      assert.match(await again.locator('body').innerText(), /not the access secret/);
      await again.fill('input[name="secret"]', SECRET);
      await again.click('button[type="submit"]');
      await again.waitForURL((url) => url.pathname === '/');
      assert.match(await again.locator('tr[data-connection="acme"]').innerText(), /ok/);
    } finally {
      await browser.close();
      await rig.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
