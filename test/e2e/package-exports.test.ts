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
