import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { didYouMean, editDistance, similar } from '../../src/suggest.js';

describe('did you mean', () => {
  it('counts a swap of neighbours as one edit', () => {
    assert.equal(editDistance('stauts', 'status'), 1);
    assert.equal(editDistance('login', 'logout'), 3);
    assert.equal(editDistance('', 'abc'), 3);
  });

  it('suggests the nearest known word, or nothing when none is close', () => {
    assert.equal(didYouMean('stauts', ['status', 'token', 'login']), 'status');
    assert.equal(didYouMean('provder', ['provider', 'env', 'base-url']), 'provider');
    assert.equal(didYouMean('colour', ['json', 'help']), undefined);
  });

  it('short words allow one edit only; a typed prefix of three or more letters counts', () => {
    assert.equal(didYouMean('tkn', ['token']), undefined);
    assert.deepEqual(similar('acm', ['acme', 'hr', 'acme-prod']), ['acme', 'acme-prod']);
  });
});
