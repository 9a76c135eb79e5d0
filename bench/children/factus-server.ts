/**
 * The Factus emulator in its own process, so the daemon under test does not share its
 * event loop. argv: <access token lifetime s> [lifetime ms]. Strict rotation, no API
 * rate limit. Prints `{"url":…}`, then answers each `stats` line on stdin with the
 * emulator's counters as one JSON line; exits when stdin closes or after the lifetime.
 */
import { createInterface } from 'node:readline';
import { startStormEmulator } from '../lib/factus.js';

const accessTtlSeconds = Number(process.argv[2] ?? 3600);
const lifetimeMs = Number(process.argv[3] ?? 30 * 60_000);
const emulator = await startStormEmulator(accessTtlSeconds);
process.stdout.write(`${JSON.stringify({ url: emulator.url, tokenUrl: emulator.tokenUrl })}\n`);

const stop = async () => {
  await emulator.stop().catch(() => undefined);
  process.exit(0);
};
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (line === 'stats') process.stdout.write(`${JSON.stringify(emulator.stats())}\n`);
  else if (line === 'reset') {
    emulator.resetStats();
    process.stdout.write('ok\n');
  }
});
lines.on('close', () => void stop());
setTimeout(() => void stop(), lifetimeMs).unref();
