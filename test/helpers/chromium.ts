/**
 * Debian's Chromium for the browser tests, driven by playwright-core (never a browser
 * download). In CI it must be there; elsewhere its absence skips the test with a notice.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
const available = existsSync(CHROMIUM);

/** The `skip` option of a browser test's describe(): false, or why it is skipped. */
export function skipWithoutChromium(what: string): false | string {
  if (available || process.env.CI) return false;
  const reason = `Chromium is not installed at ${CHROMIUM} (apt-get install chromium)`;
  console.log(`# skipping ${what}: ${reason}`);
  return reason;
}

export function launchChromium(): Promise<Browser> {
  assert.ok(available, `CI requires Chromium at ${CHROMIUM}`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}
