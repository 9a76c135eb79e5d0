/**
 * Which store the commands the daemon suggests must name: none for the default one, the
 * daemon's own otherwise (a SQLite path made absolute), and never a password.
 */
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { storeArgumentFor } from '../../src/serve/store-argument.js';

const env = { XDG_DATA_HOME: '/srv/data' };

describe('the store the daemon’s commands name', () => {
  it('names none for the default store, or one only the daemon can reach', () => {
    for (const location of [undefined, '', join('/srv/data', 'tokenkeeper', 'tokenkeeper.db'), 'memory:']) {
      const store = storeArgumentFor(location, env);
      assert.equal(store.command('login acme'), 'tokenkeeper login acme', String(location));
      assert.equal(store.note, undefined);
      assert.equal(
        store.inMessage('Run `tokenkeeper login acme` again.'),
        'Run `tokenkeeper login acme` again.',
      );
    }
  });

  it('names a SQLite file by its absolute path, quoted for the shell when it must be', () => {
    assert.equal(
      storeArgumentFor('./ci.db', env).command('login acme'),
      `tokenkeeper --store ${resolve('ci.db')} login acme`,
    );
    assert.equal(
      storeArgumentFor("sqlite:/srv/it's here.db", env).command('login acme'),
      "tokenkeeper --store '/srv/it'\\''s here.db' login acme",
    );
    assert.equal(
      storeArgumentFor('/srv/fleet.db', env).inMessage(
        'Fix the store, then run `tokenkeeper refresh acme`; if that fails, run `tokenkeeper login acme`.',
      ),
      'Fix the store, then run `tokenkeeper --store /srv/fleet.db refresh acme`; if that fails, run `tokenkeeper --store /srv/fleet.db login acme`.',
    );
  });

  it('points every suggested command at the store, and leaves prose and named stores alone', () => {
    const store = storeArgumentFor('/srv/fleet.db', env);
    assert.equal(
      store.inMessage(
        'To create it, run one of:\n  tokenkeeper login x --provider factus\nTo log in to it again: tokenkeeper login x',
      ),
      'To create it, run one of:\n  tokenkeeper --store /srv/fleet.db login x --provider factus\n' +
        'To log in to it again: tokenkeeper --store /srv/fleet.db login x',
    );
    for (const untouched of [
      'tokenkeeper refreshes it before then.',
      'Run `tokenkeeper --store /other.db login x`.',
      'Run `tokenkeeper help`.',
    ]) {
      assert.equal(store.inMessage(untouched), untouched);
    }
  });

  it('names a server URL as given, with its schema or prefix, when it holds no password', () => {
    assert.equal(
      storeArgumentFor('postgres://tokenkeeper@db.internal:5432/app?schema=tk', env).command('login hr'),
      "tokenkeeper --store 'postgres://tokenkeeper@db.internal:5432/app?schema=tk' login hr",
    );
    assert.equal(
      storeArgumentFor('redis://cache.internal:6379', env).command('login hr'),
      'tokenkeeper --store redis://cache.internal:6379 login hr',
    );
  });

  it('never shows a password: says to set TOKENKEEPER_STORE instead', () => {
    for (const location of [
      'postgres://app:s3cr3t-pw@db.internal:5432/app',
      'redis://:s3cr3t-pw@cache.internal:6379',
      'rediss://cache.internal:6380/?password=s3cr3t-pw',
    ]) {
      const store = storeArgumentFor(location, env);
      assert.equal(store.command('login hr'), 'tokenkeeper login hr', location);
      assert.match(store.note ?? '', /^with TOKENKEEPER_STORE set to this daemon's store \(/);
      const message = store.inMessage('Run `tokenkeeper login hr` again.');
      assert.match(message, /Run it with TOKENKEEPER_STORE set to this daemon's store/);
      for (const shown of [store.note ?? '', message]) assert.ok(!shown.includes('s3cr3t-pw'), shown);
    }
  });
});
