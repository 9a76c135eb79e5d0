/**
 * A store that cannot be turned against its owner: settings changed in the clear part
 * of a row are refused (STORE_TAMPERED) before anything is sent; operations that need no
 * secret never open one; a lost key file is not silently replaced.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FakeClock } from '../../src/clock.js';
import type { TokenkeeperError } from '../../src/errors.js';
import { createKeeper } from '../../src/keeper.js';
import { generateEncryptionKey } from '../../src/store/encryption.js';
import { MemoryTokenStore } from '../../src/store/memory-store.js';
import { openStore } from '../../src/store/open-store.js';
import { startFactusRig } from '../helpers/factus.js';

/** A server that only counts what reaches it: where a tampered row would send the secrets. */
async function captureServer() {
  let requests = 0;
  const server = createServer((req, res) => {
    requests++;
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: () => requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('tampered metadata', () => {
  it('a token URL changed in the clear row is refused with STORE_TAMPERED; nothing is sent there', async () => {
    const clock = new FakeClock(Date.now());
    const store = new MemoryTokenStore();
    const key = generateEncryptionKey();
    const rig = await startFactusRig({
      clock,
      keeper: { store, encryptionKey: key, proactiveRefresh: false },
    });
    const capture = await captureServer();
    const victim = createKeeper({ store, encryptionKey: key, clock, proactiveRefresh: false });
    try {
      await rig.keeper.connect('acme', rig.spec);
      const row = await store.get('acme');
      assert.ok(row);
      // What an attacker with write access to the database (not the key) would do.
      await store.put('acme', { ...row.meta, tokenUrl: `${capture.url}/steal` }, row.sealed, row.version);
      await clock.advance(3600_000);
      await assert.rejects(victim.getAccessToken('acme'), (error: TokenkeeperError) => {
        assert.equal(error.code, 'STORE_TAMPERED');
        assert.match(error.message, /tokenUrl/);
        assert.match(error.message, /nothing was sent anywhere/);
        return true;
      });
      await assert.rejects(
        victim.refresh('acme'),
        (error: TokenkeeperError) => error.code === 'STORE_TAMPERED',
      );
      assert.equal(capture.requests(), 0);
      // status still reads the clear copy.
      assert.equal((await victim.info('acme')).name, 'acme');
      assert.deepEqual(
        (await victim.list()).map((c) => c.name),
        ['acme'],
      );
    } finally {
      await victim.close();
      await rig.close();
      await capture.close();
    }
  });

  it('an untouched row, and a row rewritten by tokenkeeper, open normally', async () => {
    const clock = new FakeClock(Date.now());
    const rig = await startFactusRig({ clock, keeper: { proactiveRefresh: false } });
    try {
      await rig.keeper.connect('acme', { ...rig.spec, scope: 'one' });
      await rig.keeper.connect('acme', { ...rig.spec, scope: 'two' });
      await clock.advance(3600_000);
      assert.ok(await rig.keeper.getAccessToken('acme'));
      assert.equal((await rig.keeper.info('acme')).scope, 'two');
    } finally {
      await rig.close();
    }
  });
});

describe('operations that need no secret', () => {
  it('info, list and forget work without the key that sealed the connection', async () => {
    const store = new MemoryTokenStore();
    const rig = await startFactusRig({
      keeper: { store, encryptionKey: generateEncryptionKey(), proactiveRefresh: false },
    });
    const otherKey = createKeeper({ store, encryptionKey: generateEncryptionKey(), proactiveRefresh: false });
    try {
      await rig.keeper.connect('acme', rig.spec);
      await assert.rejects(
        otherKey.getAccessToken('acme'),
        (error: TokenkeeperError) => error.code === 'STORE_KEY',
      );
      assert.equal((await otherKey.info('acme')).provider, 'factus');
      assert.equal((await otherKey.list()).length, 1);
      assert.equal(await otherKey.forget('acme'), true);
      assert.equal(await store.get('acme'), undefined);
    } finally {
      await otherKey.close();
      await rig.close();
    }
  });
});

describe('connect over a connection whose secrets cannot be opened', () => {
  it('replaces it, whether sealed under another key or damaged', async () => {
    const store = new MemoryTokenStore();
    const rig = await startFactusRig({
      keeper: { store, encryptionKey: generateEncryptionKey(), proactiveRefresh: false },
    });
    const otherKey = createKeeper({ store, encryptionKey: generateEncryptionKey(), proactiveRefresh: false });
    try {
      await rig.keeper.connect('acme', rig.spec);
      await otherKey.connect('acme', rig.spec);
      assert.ok(await otherKey.getAccessToken('acme'));

      const row = (await store.get('acme'))!;
      await store.put('acme', row.meta, row.sealed.slice(0, -8), row.version);
      await assert.rejects(otherKey.details('acme'), (error: TokenkeeperError) => error.code === 'STORE_KEY');
      await otherKey.connect('acme', rig.spec);
      assert.ok((await otherKey.details('acme')).credentialPrefix);
    } finally {
      await otherKey.close();
      await rig.close();
    }
  });
});

describe('no silent new key', () => {
  it('refuses to create a key file beside a database that holds connections, naming the key it needs', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tk-key-'));
    const path = join(dir, 'tokenkeeper.db');
    const rig = await startFactusRig({ keeper: { store: path, env: {}, proactiveRefresh: false } });
    try {
      await rig.keeper.connect('acme', rig.spec);
      await rig.keeper.close();
      await rm(join(dir, 'tokenkeeper.key'));
      await assert.rejects(openStore(path, { env: {} }), (error: TokenkeeperError) => {
        assert.equal(error.code, 'STORE_KEY');
        assert.match(error.message, /holds 1 connection\(s\) sealed with key [A-Za-z0-9_-]+/);
        assert.match(error.message, /Restore the key file, or set TOKENKEEPER_KEY/);
        return true;
      });
      // An empty database may get its first key.
      const fresh = join(dir, 'empty', 'tokenkeeper.db');
      const opened = await openStore(fresh, { env: {} });
      await opened.store.close();
      const again = await openStore(fresh, { env: {} });
      await again.store.close();
    } finally {
      await rig.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
