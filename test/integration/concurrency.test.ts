import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startFactusEmulator } from '../../src/emulators/factus/factus-emulator.js';
import { createKeeper } from '../../src/keeper.js';
import { factusSpec, startFactusRig } from '../helpers/factus.js';

describe('concurrency', () => {
  it('1,000 concurrent getAccessToken calls at expiry make exactly one token request', async () => {
    const rig = await startFactusRig({ keeper: { proactiveRefresh: false } });
    try {
      await rig.keeper.connect('acme', rig.spec);
      const stale = await rig.keeper.getAccessToken('acme');
      await rig.clock.advance(3600_000);
      rig.emulator.resetStats();
      const tokens = await Promise.all(Array.from({ length: 1000 }, () => rig.keeper.getAccessToken('acme')));
      assert.equal(new Set(tokens).size, 1);
      assert.notEqual(tokens[0], stale);
      assert.deepEqual(rig.emulator.stats().tokenRequests, { total: 1, password: 0, refresh_token: 1 });
    } finally {
      await rig.close();
    }
  });
});

const childScript = fileURLToPath(new URL('../fixtures/get-token-child.js', import.meta.url));

interface Child {
  process: ChildProcessWithoutNullStreams;
  lines: AsyncIterator<string>;
}

function startChild(storePath: string): Child {
  const child = spawn(process.execPath, [childScript, storePath], { stdio: 'pipe' });
  child.stderr.on('data', (chunk) => process.stderr.write(chunk));
  return { process: child, lines: createInterface({ input: child.stdout })[Symbol.asyncIterator]() };
}

async function nextLine(child: Child): Promise<string> {
  const { value, done } = await child.lines.next();
  if (done) throw new Error('child exited early');
  return value;
}

describe('several processes sharing one SQLite store', () => {
  it('4 processes calling at expiry make exactly 1 token request and 0 invalid_grant under strict rotation', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tk-procs-'));
    const storePath = join(dir, 'tokens.db');
    // Real time here: the processes do not share a fake clock. A 2 s token is stale after 1 s.
    const emulator = await startFactusEmulator({ accessTtlSeconds: 2, rotation: 'strict' });
    const keeper = createKeeper({ store: storePath, proactiveRefresh: false, env: {} });
    try {
      await keeper.connect('acme', factusSpec(emulator));
      const loginToken = await keeper.getAccessToken('acme');
      await keeper.close();

      const children = Array.from({ length: 4 }, () => startChild(storePath));
      for (const child of children) assert.equal(await nextLine(child), 'ready');
      await new Promise((resolve) => setTimeout(resolve, 2100)); // the stored token has expired
      emulator.resetStats();
      for (const child of children) child.process.stdin.write('go\n');
      const results = await Promise.all(children.map((child) => nextLine(child)));
      for (const child of children) child.process.stdin.end();

      const tokens = results.map((line) => JSON.parse(line) as { token?: string; error?: string });
      assert.deepEqual(
        tokens.map((t) => t.error),
        [undefined, undefined, undefined, undefined],
      );
      assert.equal(new Set(tokens.map((t) => t.token)).size, 1, 'every process ends up with the same token');
      assert.notEqual(tokens[0]?.token, loginToken);
      const stats = emulator.stats();
      assert.equal(stats.tokenRequests.total, 1);
      assert.equal(stats.tokenRequests.refresh_token, 1);
      assert.equal(stats.invalidGrant, 0);
    } finally {
      await emulator.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
