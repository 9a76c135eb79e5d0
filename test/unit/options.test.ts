import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock, systemClock } from '../../src/clock.js';
import type { TokenkeeperError } from '../../src/errors.js';
import { createKeeper, type KeeperOptions } from '../../src/keeper.js';
import { DEFAULTS, resolveKeeperOptions } from '../../src/options.js';
import { factorialProfile } from '../../src/providers/factorial.js';
import { factusProfile } from '../../src/providers/factus.js';
import { genericOAuth2Profile } from '../../src/providers/oauth2.js';
import { generateEncryptionKey } from '../../src/store/encryption.js';
import { MemoryTokenStore } from '../../src/store/memory-store.js';

describe('resolveKeeperOptions', () => {
  it('fills every default from one table', () => {
    const settings = resolveKeeperOptions({ env: {} });
    assert.equal(settings.clock, systemClock);
    assert.equal(settings.pacingClock, systemClock);
    assert.equal(settings.requestTimeoutMs, DEFAULTS.requestTimeoutMs);
    assert.equal(settings.lock.ttlMs, DEFAULTS.lockTtlMs);
    assert.equal(settings.lock.waitMs, DEFAULTS.lockWaitMs);
    assert.equal(settings.rateLimit.maxRetryAfterMs, DEFAULTS.maxRetryAfterSeconds * 1000);
    assert.equal(settings.refreshTiming.marginMs, 60_000);
    assert.equal(settings.proactiveRefresh, true);
  });

  it('takes the caller’s values, converting seconds to milliseconds', () => {
    const clock = new FakeClock(0);
    const pacing = new FakeClock(0);
    const settings = resolveKeeperOptions({
      clock,
      pacingClock: pacing,
      refreshMarginSeconds: 5,
      maxRetryAfterSeconds: 0,
      requestTimeoutMs: 2_000,
      lockTtlMs: 1_000,
      proactiveRefresh: false,
      env: {},
    });
    assert.equal(settings.clock, clock);
    assert.equal(settings.pacingClock, pacing);
    assert.equal(settings.refreshTiming.marginMs, 5_000);
    assert.equal(settings.rateLimit.maxRetryAfterMs, 0);
    assert.equal(settings.requestTimeoutMs, 2_000);
    assert.equal(settings.preflightTimeoutMs, 2_000, 'the pre-flight never waits longer than a request');
    assert.equal(settings.lock.ttlMs, 1_000);
    assert.equal(settings.proactiveRefresh, false);
  });

  it('refuses values that would break the timing, naming the option', () => {
    assert.throws(() => resolveKeeperOptions({ requestTimeoutMs: 0 }), /requestTimeoutMs/);
    assert.throws(() => resolveKeeperOptions({ lockWaitMs: Number.NaN }), /lockWaitMs/);
    assert.throws(() => resolveKeeperOptions({ refreshMarginSeconds: -1 }), /refreshMarginSeconds/);
    assert.throws(() => resolveKeeperOptions({ maxRetryAfterSeconds: -5 }), /maxRetryAfterSeconds/);
  });

  it('refuses durations no timer can wait, and rounds the request timeout up to whole ms', () => {
    // Found by the fuzz suite: requestTimeoutMs 1e20 or 0.5 made every token request fail with
    // AbortSignal.timeout's RangeError; maxRetryAfterSeconds 1e7 let fetch sleep past setTimeout's
    // range, which fires at once; lockTtlMs 0.5 was refused by every store at the first refresh.
    for (const options of [
      { requestTimeoutMs: 1e20 },
      { requestTimeoutMs: 2 ** 31 },
      { lockWaitMs: 2 ** 31 },
      { lockTtlMs: 0.5 },
      { maxRetryAfterSeconds: 1e7 },
    ]) {
      assert.throws(
        () => resolveKeeperOptions({ ...options, env: {} }),
        { code: 'CONFIG' },
        JSON.stringify(options),
      );
    }
    const settings = resolveKeeperOptions({ requestTimeoutMs: 0.5, env: {} });
    assert.equal(settings.requestTimeoutMs, 1);
    AbortSignal.timeout(settings.requestTimeoutMs);
    assert.equal(
      resolveKeeperOptions({ maxRetryAfterSeconds: 86_400, env: {} }).rateLimit.maxRetryAfterMs,
      86_400_000,
    );
  });
});

describe('createKeeper refuses options of the wrong type, naming the option', () => {
  const refused = (options: unknown, pattern: RegExp) =>
    assert.throws(
      () => createKeeper(options as KeeperOptions),
      (error: TokenkeeperError) => {
        assert.equal(error.code, 'CONFIG', error.message);
        assert.match(error.message, pattern);
        return true;
      },
      JSON.stringify(options),
    );
  const key = generateEncryptionKey();

  it('a store that is neither a location nor a TokenStore', () => {
    refused({ store: 42 }, /store must be a location string .* or a TokenStore object .*, got a number/);
    refused(
      { store: {}, encryptionKey: key },
      /store must be .* got an object without get, list, put, delete, tryLock, renewLock, unlock, close/,
    );
    const { tryLock: _missing, ...almost } = Object.fromEntries(
      ['get', 'list', 'put', 'delete', 'tryLock', 'renewLock', 'unlock', 'close'].map((m) => [m, () => {}]),
    );
    refused({ store: almost, encryptionKey: key }, /an object without tryLock\./);
  });

  it('previous keys that are not an array of keys', () => {
    refused(
      { store: new MemoryTokenStore(), encryptionKey: key, previousEncryptionKeys: key.toString('base64') },
      /previousEncryptionKeys must be an array of keys.*got a string/,
    );
    refused({ previousEncryptionKeys: [key, 7] }, /previousEncryptionKeys .* got an array with other values/);
  });

  it('providers that are not an array of complete profiles', () => {
    refused({ providers: {} }, /providers must be an array of provider profiles .* got an object/);
    refused(
      { providers: [{ id: 'factus' }] },
      /providers\[0\] \("factus"\) is not a complete provider profile: it needs displayName .*environments .*tokenPath .*grants .*clientAuthMethod .*\.\.\.genericOAuth2Profile/,
    );
    refused(
      { providers: [factusProfile, { ...factusProfile, grants: ['implicit'] }] },
      /providers\[1\] .* grants/,
    );
    refused({ providers: [{ ...factusProfile, defaultEnvironment: 'staging' }] }, /defaultEnvironment/);
    refused({ providers: [{ ...factusProfile, rateLimits: [{ limit: 0 }] }] }, /needs rateLimits/);
    refused({ providers: [null] }, /providers\[0\] must be a provider profile object/);
  });

  it('seams and flags of the wrong type', () => {
    refused({ fetch: 'x' }, /fetch must be a function with the signature of globalThis\.fetch, got a string/);
    refused({ random: 0.5 }, /random must be a function/);
    refused({ clock: {} }, /clock must be a Clock \(with now, setTimer, sleep\)/);
    refused({ pacingClock: { now: () => 0 } }, /pacingClock must be a Clock/);
    refused({ proactiveRefresh: 'no' }, /proactiveRefresh must be true or false, got a string/);
    refused({ env: 'production' }, /env must be an object/);
    refused(null, /createKeeper takes an options object/);
  });

  it('a mistyped option, with the one meant', () => {
    refused(
      { refreshMargin: 30 },
      /^createKeeper has no option "refreshMargin": did you mean "refreshMarginSeconds"\? It takes store, /,
    );
    refused({ colour: 'red' }, /^createKeeper has no option "colour"\. It takes /);
  });

  it('takes what is right: the built-in profiles, a store object, real seams', async () => {
    const keeper = createKeeper({
      store: new MemoryTokenStore(),
      previousEncryptionKeys: [generateEncryptionKey().toString('base64'), generateEncryptionKey()],
      providers: [
        factusProfile,
        factorialProfile,
        { ...genericOAuth2Profile, id: 'acme', displayName: 'Acme' },
      ],
      fetch: globalThis.fetch,
      clock: new FakeClock(0),
      pacingClock: systemClock,
      proactiveRefresh: false,
      env: {},
    });
    assert.equal(keeper.profile('acme').displayName, 'Acme');
    await keeper.close();
  });
});

describe('a mistyped spec field, connect option or event name is refused, with the one meant', () => {
  const keeper = createKeeper({ store: new MemoryTokenStore(), proactiveRefresh: false, env: {} });
  const config = (pattern: RegExp) => (error: TokenkeeperError) => {
    assert.equal(error.code, 'CONFIG', error.message);
    assert.match(error.message, pattern);
    return true;
  };

  it('a spec field, before anything is sent', async () => {
    await assert.rejects(
      keeper.connect('acme', { provider: 'factus', clientSecrt: 'x' } as never),
      config(/^A connection spec has no field "clientSecrt": did you mean "clientSecret"\?/),
    );
  });

  it('a connect option', async () => {
    await assert.rejects(
      keeper.connect('acme', { provider: 'factus' }, { reuseSave: true } as never),
      config(/^connect has no option "reuseSave": did you mean "reuseSaved"\?/),
    );
  });

  it('an event name, and a listener that is not a function', async () => {
    assert.throws(
      () => keeper.on('refreshed' as never, () => {}),
      config(/^There is no event "refreshed": did you mean "refresh"\? The events are token, /),
    );
    assert.throws(
      () => keeper.on('token', 'log' as never),
      config(/^A listener of token must be a function, got a string\./),
    );
    const off = keeper.on('retry_wait', () => {});
    off();
    await keeper.close();
  });
});
