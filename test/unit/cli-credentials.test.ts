import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { gatherCredentials } from '../../src/cli/credentials.js';
import type { CliIO } from '../../src/cli/output.js';
import { genericOAuth2Profile } from '../../src/providers/oauth2.js';

/** No terminal: what is missing must be reported, not asked for. */
function scriptIO(env: NodeJS.ProcessEnv = {}): CliIO {
  return { stdout: new PassThrough(), stderr: new PassThrough(), stdin: new PassThrough(), env };
}

describe('the CLI’s credentials without a terminal', () => {
  it('a field no variable can hold is named in words, never as "undefined"', async () => {
    // A provider (passed to createKeeper as a profile) that names no variable for its API key.
    const profile = {
      ...genericOAuth2Profile,
      id: 'custom',
      displayName: 'Custom',
      grants: ['api_key' as const],
    };
    await assert.rejects(gatherCredentials(scriptIO(), profile, 'api_key', undefined), (error: Error) => {
      assert.match(error.message, /\n {2}api key: no variable holds it; run the login on a terminal$/);
      assert.doesNotMatch(error.message, /undefined/);
      return true;
    });
  });

  it('the generic provider reads TOKENKEEPER_USERNAME and TOKENKEEPER_PASSWORD', async () => {
    const env = {
      TOKENKEEPER_CLIENT_ID: 'id',
      TOKENKEEPER_CLIENT_SECRET: 'secret',
      TOKENKEEPER_USERNAME: 'ana',
      TOKENKEEPER_PASSWORD: 'pw',
    };
    assert.deepEqual(await gatherCredentials(scriptIO(env), genericOAuth2Profile, 'password', undefined), {
      clientId: 'id',
      clientSecret: 'secret',
      username: 'ana',
      password: 'pw',
    });
  });
});
