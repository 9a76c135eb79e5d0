/**
 * A refresh that runs while the held token still looks fresh (keeper.refresh, the daemon's
 * keep-alive): under strict rotation the provider revokes that token as the refresh token is
 * spent, so callers in the meantime wait for the new token instead of getting the old one.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TokenkeeperError } from '../../src/errors.js';
import { apiStatus, type FactusRig, startFactusRig } from '../helpers/factus.js';

describe('callers during a refresh in flight (Factus, strict rotation)', () => {
  let rig: FactusRig;
  before(async () => {
    rig = await startFactusRig({ keeper: { proactiveRefresh: false } });
  });
  after(() => rig.close());

  it('wait for the new token instead of getting the one the refresh revokes', async () => {
    await rig.keeper.connect('waits', rig.spec);
    const old = await rig.keeper.getAccessToken('waits');
    rig.emulator.faults.add({ point: 'token', delayMs: 300, count: 1 });

    const refreshing = rig.keeper.refresh('waits');
    const [token, credential, response] = await Promise.all([
      rig.keeper.getAccessToken('waits'),
      rig.keeper.credential('waits'),
      rig.keeper.fetch('waits', '/v1/numbering-ranges'),
    ]);
    await refreshing;
    const renewed = await rig.keeper.getAccessToken('waits');

    assert.notEqual(renewed, old);
    assert.equal(token, renewed, 'getAccessToken waited for the refresh');
    assert.equal(credential.accessToken, renewed, 'credential waited for the refresh');
    assert.equal(response.status, 200);
    await response.arrayBuffer();
    assert.equal(await apiStatus(rig.emulator, old), 401, 'the refresh revoked the old token');
    assert.equal(rig.emulator.stats().tokenRequests.refresh_token, 1, 'the callers shared the refresh');
  });

  it('get the held token while it is valid when the forced refresh fails', async () => {
    await rig.keeper.connect('falls-back', rig.spec);
    const held = await rig.keeper.getAccessToken('falls-back');
    rig.emulator.faults.add({ point: 'token', status: 503, delayMs: 200, count: 1 });

    const refreshing = rig.keeper.refresh('falls-back');
    const waiting = rig.keeper.credential('falls-back');
    await assert.rejects(refreshing, (error: TokenkeeperError) => {
      assert.equal(error.status, 503);
      return true;
    });
    assert.equal(
      (await waiting).accessToken,
      held,
      'the caller was not failed by a refresh it did not ask for',
    );
    assert.equal(await apiStatus(rig.emulator, held), 200);
  });
});
