/**
 * What `request` is given, checked before anything is sent and refused in plain words with
 * exit 2: a header that is not one, one that cannot be sent, one the HTTP client sets itself,
 * and --data that is not JSON or cannot be read. Never "Unexpected error", never V8's parser
 * text, never "could not reach".
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type FactusRunningEmulator,
  startFactusEmulator,
} from '../../src/emulators/factus/factus-emulator.js';
import { type CliSandbox, createCliSandbox, factusEnv } from '../helpers/cli.js';

/** Words that are not ours: fetch's, undici's, V8's JSON parser's, the file system's. */
const NOT_OURS =
  /Unexpected error|Could not reach|UND_ERR|Headers\.append|ByteString|in JSON at position|Unexpected (end|token)|ENOENT|EISDIR/;

describe('request refuses what it cannot send, in plain words', () => {
  let factus: FactusRunningEmulator;
  let cli: CliSandbox;

  before(async () => {
    factus = await startFactusEmulator();
    cli = await createCliSandbox(factusEnv(factus));
    const login = await cli.run(['login', 'acme', '--provider', 'factus', '--base-url', factus.url]);
    assert.equal(login.code, 0, login.stderr);
  });
  after(async () => {
    await factus.stop();
    await cli.cleanup();
  });

  const request = (...extra: string[]) =>
    cli.run(['request', 'acme', 'GET', '/v1/numbering-ranges', ...extra]);

  it('a header that is not one, or cannot be sent: exit 2 naming it, nothing sent', async () => {
    const before = factus.stats().apiRequests;
    for (const [header, named, why] of [
      ['Bad Name: v', '"Bad Name"', /not a header name/],
      ['X-A: ☃', '"X-A"', /holds "☃", which a header cannot carry \(Latin-1 text only\)/],
      ['X-A: b\r\nX-Injected: 1', '"X-A"', /holds a line break or NUL/],
      ['X-A: b\nX-Injected: 1', '"X-A"', /holds a line break or NUL/],
    ] as const) {
      const result = await request('--header', header);
      assert.equal(result.code, 2, `${header}: ${result.stderr}`);
      assert.match(result.stderr, new RegExp(`^--header ${named}: `));
      assert.match(result.stderr, why);
      assert.doesNotMatch(result.stderr, NOT_OURS);
    }
    assert.equal(factus.stats().apiRequests, before, 'nothing reached the API');
  });

  it('a header the HTTP client sets itself: exit 2 saying why', async () => {
    for (const [header, why] of [
      ['Transfer-Encoding: chunked', /how the body is sent/],
      ['Content-Length: 5', /the body’s length/],
      ['Host: elsewhere.example', /the connection’s base URL/],
      ['Connection: upgrade', /about the connection to the server/],
      ['keep-alive: timeout=5', /about the connection to the server/],
      ['Upgrade: websocket', /about the connection to the server/],
      ['TE: trailers', /about the connection to the server/],
      ['Trailer: X-A', /about the connection to the server/],
      ['Proxy-Connection: close', /about the connection to the server/],
      ['Expect: 100-continue', /100 Continue/],
    ] as const) {
      const result = await request('--header', header);
      assert.equal(result.code, 2, `${header}: ${result.stderr}`);
      const name = header.slice(0, header.indexOf(':'));
      assert.match(result.stderr, new RegExp(`^--header "${name}": tokenkeeper sets it itself \\(`));
      assert.match(result.stderr, why);
      assert.doesNotMatch(result.stderr, NOT_OURS);
    }
  });

  it('any other header is sent, Latin-1 included', async () => {
    for (const header of ['X-Trace: é', 'constructor: x', 'Accept-Language: es-CO']) {
      const result = await request('--header', header);
      assert.equal(result.code, 0, `${header}: ${result.stderr}`);
    }
  });

  it('--data that is not JSON, empty or unreadable: plain words, exit 2', async () => {
    const post = (data: string) => cli.run(['request', 'acme', 'POST', '/v1/bills/validate', '--data', data]);
    const file = join(cli.home, 'bill.json');
    await writeFile(file, '{\n  "numbering_range_id": 8,\n}\n');
    for (const [data, expected] of [
      ['{bad json', /^--data is not valid JSON \(line 1, column 2\)\. Pass JSON, @file or @- for stdin\.$/m],
      ['[1, 2', /^--data is not valid JSON \(line 1, column 6\)\./m],
      [`@${file}`, new RegExp(`^--data file "${file}" is not valid JSON \\(line 3, column 1\\)\\.`, 'm')],
      ['@/dev/null', /^--data file "\/dev\/null" is empty\. Pass JSON, @file or @- for stdin\.$/m],
      ['   ', /^--data is empty\./m],
      ['@nosuch.json', /^Cannot read --data file "nosuch.json": there is no such file\.$/m],
      [`@${cli.home}`, /: it is a directory\.$/m],
    ] as const) {
      const result = await post(data);
      assert.equal(result.code, 2, `${data}: ${result.stderr}`);
      assert.match(result.stderr, expected);
      assert.doesNotMatch(result.stderr, NOT_OURS);
    }
  });
});
