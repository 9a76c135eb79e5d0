import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseFormBody } from '../../src/emulators/core/body.js';

function post(contentType: string, body: string) {
  return {
    method: 'POST',
    url: new URL('http://127.0.0.1/oauth/token'),
    path: '/oauth/token',
    headers: { 'content-type': contentType },
    body: Buffer.from(body),
    params: {},
  };
}

describe('parseFormBody', () => {
  // Found by the fuzz suite: a field named __proto__ in a JSON or multipart body was assigned
  // with fields[name] = value, which sets the prototype instead, so the field vanished.
  it('keeps a field named __proto__ as an own field in every encoding', async () => {
    const multipart =
      '--x\r\nContent-Disposition: form-data; name="__proto__"\r\n\r\nv\r\n' +
      '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--\r\n';
    for (const [type, body] of [
      ['application/x-www-form-urlencoded', '__proto__=v&a=1'],
      ['application/json', '{"__proto__":"v","a":1}'],
      ['multipart/form-data; boundary=x', multipart],
    ]) {
      const fields = await parseFormBody(post(type!, body!));
      assert.deepEqual(
        Object.entries(fields),
        [
          ['__proto__', 'v'],
          ['a', '1'],
        ],
        type,
      );
      assert.equal(Object.getPrototypeOf(fields), Object.prototype, type);
    }
  });
});
