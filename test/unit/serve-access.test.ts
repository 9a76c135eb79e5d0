import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DashboardSessions, SESSION_COOKIE, SecretDigest } from '../../src/serve/access.js';

describe('the daemon’s access checks', () => {
  it('takes only the exact secret as a Bearer token', () => {
    const secret = 'a-secret-of-thirty-two-characters';
    const access = new SecretDigest(secret);
    assert.equal(access.inBearer(`Bearer ${secret}`), true);
    assert.equal(access.inBearer(`bearer  ${secret} `), true);
    assert.equal(access.matches(secret), true);
    assert.equal(access.matches(`${secret}x`), false);
    for (const wrong of [
      undefined,
      '',
      secret,
      `Basic ${secret}`,
      `Bearer ${secret}x`,
      `Bearer ${secret.slice(1)}`,
      'Bearer',
    ]) {
      assert.equal(access.inBearer(wrong), false, String(wrong));
    }
  });

  it('a one-time link works once, within 15 minutes, for a session of 12 hours', () => {
    let now = 0;
    const sessions = new DashboardSessions(() => now);
    const code = sessions.oneTimeCode();
    const id = sessions.redeem(code);
    assert.ok(id);
    assert.equal(sessions.redeem(code), undefined, 'spent');
    const cookie = `${SESSION_COOKIE}=${id}`;
    assert.equal(sessions.isValid(cookie), true);
    assert.equal(sessions.isValid(`other=1; ${cookie}`), true);
    assert.equal(sessions.isValid(`${SESSION_COOKIE}=${id}x`), false);
    assert.match(sessions.cookie(id), /; HttpOnly; SameSite=Strict; Path=\//);

    const late = sessions.oneTimeCode();
    now += 15 * 60_000;
    assert.equal(sessions.redeem(late), undefined, 'expired');
    now = 12 * 60 * 60_000;
    assert.equal(sessions.isValid(cookie), false, 'the session ran out');
  });
});
