import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isLoopbackUrl, validateServiceUrl } from '../../src/http/urls.js';

describe('loopback', () => {
  it('is 127.0.0.0/8 written as an IPv4 address, ::1 and localhost', () => {
    for (const url of [
      'http://127.0.0.1:8787',
      'http://127.255.3.4/',
      'http://127.1/', // the URL parser writes it as 127.0.0.1
      'http://[::1]:8080/',
      'http://localhost:3000/',
      'http://LOCALHOST/',
    ]) {
      assert.equal(isLoopbackUrl(new URL(url)), true, url);
    }
  });

  it('is not a name that merely starts like one', () => {
    for (const url of [
      'http://127.attacker.example/',
      'http://127.0.0.1.nip.io/',
      'http://127.0.0.1.example.com:8787/',
      'http://localhost.attacker.example/',
      'http://128.0.0.1/',
      'http://[::2]/',
      'http://[::ffff:127.0.0.1]/',
    ]) {
      assert.equal(isLoopbackUrl(new URL(url)), false, url);
    }
  });

  it('decides which service URLs may use plain http', () => {
    assert.equal(validateServiceUrl('http://127.0.0.1:8787', 'base URL').host, '127.0.0.1:8787');
    assert.equal(validateServiceUrl('https://127.attacker.example', 'base URL').protocol, 'https:');
    for (const url of ['http://127.attacker.example', 'http://127.0.0.1.nip.io:8787']) {
      assert.throws(
        () => validateServiceUrl(url, 'base URL'),
        (error: Error & { code?: string }) =>
          error.code === 'CONFIG' &&
          /uses plain http.*127\.0\.0\.0\/8, ::1 and localhost/.test(error.message),
        url,
      );
    }
  });
});
