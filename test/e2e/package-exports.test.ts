import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

describe('the published entry points', () => {
  it('"tokenkeeper" and "tokenkeeper/emulators" work together as a user would import them', async () => {
    const { createKeeper, MemoryTokenStore, TokenkeeperError } = await import('tokenkeeper');
    const { startFactusEmulator } = await import('tokenkeeper/emulators');
    const emulator = await startFactusEmulator();
    const keeper = createKeeper({ store: new MemoryTokenStore() });
    try {
      await keeper.connect('acme', { provider: 'factus', baseUrl: emulator.url, ...emulator.credentials });
      const response = await keeper.fetch('acme', '/v1/numbering-ranges');
      assert.equal(response.status, 200);
      const body = (await response.json()) as { status: string };
      assert.equal(body.status, 'OK');
      await assert.rejects(keeper.getAccessToken('missing'), TokenkeeperError);
    } finally {
      await keeper.close();
      await emulator.stop();
    }
  });
});

describe('the adapter entry points', () => {
  it('"tokenkeeper/axios", "/undici", "/ky" and "/openapi-fetch" resolve as a user would import them', async () => {
    const { useKeeper } = await import('tokenkeeper/axios');
    const { keeperDispatcher, keeperInterceptor } = await import('tokenkeeper/undici');
    const { keeperHooks } = await import('tokenkeeper/ky');
    const { keeperMiddleware } = await import('tokenkeeper/openapi-fetch');
    for (const exported of [useKeeper, keeperDispatcher, keeperInterceptor, keeperHooks, keeperMiddleware]) {
      assert.equal(typeof exported, 'function');
    }
  });

  it('installing tokenkeeper pulls in none of the HTTP clients: they are optional peers', async () => {
    const { readFile } = await import('node:fs/promises');
    const pkg = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      dependencies: Record<string, string>;
      peerDependencies: Record<string, string>;
      peerDependenciesMeta: Record<string, { optional?: boolean }>;
    };
    for (const client of ['axios', 'undici', 'ky', 'openapi-fetch']) {
      assert.equal(pkg.dependencies[client], undefined, `${client} must not be a dependency`);
      assert.ok(pkg.peerDependencies[client], `${client} is a peer dependency`);
      assert.equal(pkg.peerDependenciesMeta[client]?.optional, true, `${client} is optional`);
    }
  });
});
