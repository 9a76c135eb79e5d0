/**
 * Properties of the emulators' form-body parser (urlencoded, multipart, JSON), called directly
 * and through the token endpoints of running Factus and Factorial emulators on 127.0.0.1: any
 * body and content type gives string fields (never a throw, never a 500), and each encoding
 * reads back what was written.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseFormBody } from '../../src/emulators/core/body.js';
import type { EmulatorRequest } from '../../src/emulators/core/router.js';
import {
  type FactorialRunningEmulator,
  startFactorialEmulator,
} from '../../src/emulators/factorial/factorial-emulator.js';
import {
  FACTUS_EMULATOR_CREDENTIALS,
  type FactusRunningEmulator,
  startFactusEmulator,
} from '../../src/emulators/factus/factus-emulator.js';
import { fc, fuzzParams } from './fuzz-settings.js';

function requestOf(contentType: string | undefined, body: Buffer): EmulatorRequest {
  return {
    method: 'POST',
    url: new URL('http://127.0.0.1/oauth/token'),
    path: '/oauth/token',
    headers: contentType === undefined ? {} : { 'content-type': contentType },
    body,
    params: {},
  };
}

/** Names that objects treat specially, mixed in with arbitrary ones. */
const fieldName = fc.oneof(
  fc.string({ maxLength: 10 }),
  fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'grant_type', 'client_id'),
);

const contentType = fc.oneof(
  fc.constantFrom(
    'application/x-www-form-urlencoded',
    'application/x-www-form-urlencoded; charset=utf-8',
    'APPLICATION/X-WWW-FORM-URLENCODED',
    'multipart/form-data',
    'multipart/form-data; boundary=',
    'multipart/form-data; boundary=x',
    'multipart/form-data; boundary="a b"',
    'application/json',
    'application/vnd.api+json',
    'text/plain',
    ';',
  ),
  fc.string({ maxLength: 30 }),
  fc.string({ maxLength: 20 }).map((boundary) => `multipart/form-data; boundary=${boundary}`),
);

const bodyBytes = fc.oneof(
  fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
  fc.string({ maxLength: 120 }).map((text) => Buffer.from(text)),
  fc.json({ maxDepth: 2 }).map((text) => Buffer.from(text)),
  fc
    .tuple(
      fc.string({ maxLength: 8 }),
      fc.array(fc.tuple(fieldName, fc.string({ maxLength: 8 })), { maxLength: 4 }),
    )
    .map(([boundary, parts]) =>
      Buffer.from(
        `${parts
          .map(
            ([name, value]) =>
              `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`,
          )
          .join('')}--${boundary}--\r\n`,
      ),
    ),
);

function assertStringFields(fields: Record<string, string>): void {
  assert.equal(typeof fields, 'object');
  assert.notEqual(fields, null);
  for (const name of Object.keys(fields)) {
    assert.equal(typeof Object.getOwnPropertyDescriptor(fields, name)?.value, 'string', name);
  }
}

/** The fields a body must give: the last value of each name, every name an own property. */
function lastWins(entries: [string, string][]): Record<string, string> {
  return Object.fromEntries(entries);
}

function ownFields(fields: Record<string, string>): [string, string][] {
  return Object.keys(fields)
    .sort()
    .map((name) => [name, Object.getOwnPropertyDescriptor(fields, name)?.value as string]);
}

describe('fuzz: parseFormBody', () => {
  it('gives string fields for any content type and body', async () => {
    await fc.assert(
      fc.asyncProperty(fc.option(contentType, { nil: undefined }), bodyBytes, async (type, body) => {
        assertStringFields(await parseFormBody(requestOf(type, body)));
      }),
      fuzzParams(600),
    );
  });

  const entries = fc.array(fc.tuple(fieldName, fc.string({ maxLength: 12 })), { maxLength: 6 });

  it('reads back urlencoded fields, the last value of a name winning', async () => {
    await fc.assert(
      fc.asyncProperty(entries, async (fields) => {
        const body = Buffer.from(new URLSearchParams(fields).toString());
        const parsed = await parseFormBody(requestOf('application/x-www-form-urlencoded', body));
        assert.deepEqual(ownFields(parsed), ownFields(lastWins(fields)));
      }),
      fuzzParams(300),
    );
  });

  it('reads back JSON object fields, scalars as strings', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fieldName, fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.boolean())), {
          maxLength: 6,
        }),
        async (fields) => {
          const json = `{${fields.map(([name, value]) => `${JSON.stringify(name)}:${JSON.stringify(value)}`).join(',')}}`;
          const parsed = await parseFormBody(requestOf('application/json', Buffer.from(json)));
          const expected = lastWins(fields.map(([name, value]) => [name, String(value)]));
          assert.deepEqual(ownFields(parsed), ownFields(expected));
        },
      ),
      fuzzParams(300),
    );
  });

  it('reads back multipart fields as a browser sends them', async () => {
    // Without CR or LF, which a multipart encoder rewrites by design; names also without " and %,
    // since the encoder writes " and LF in a name as %22 and %0A, so a literal "%0A" cannot round-trip.
    const text = fc.string({ maxLength: 10 }).filter((value) => !/[\r\n]/.test(value));
    const name = fc.oneof(fc.string({ maxLength: 10 }), fieldName).filter((n) => !/[\r\n"%]/.test(n));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(name, text), { maxLength: 5 }), async (fields) => {
        const form = new FormData();
        for (const [name, value] of fields) form.append(name, value);
        const encoded = new Request('http://127.0.0.1/', { method: 'POST', body: form });
        const body = Buffer.from(await encoded.arrayBuffer());
        const parsed = await parseFormBody(requestOf(encoded.headers.get('content-type') ?? '', body));
        assert.deepEqual(ownFields(parsed), ownFields(lastWins(fields)));
      }),
      fuzzParams(200),
    );
  });
});

describe('fuzz: form bodies at a running emulator', () => {
  let factus: FactusRunningEmulator;
  let factorial: FactorialRunningEmulator;

  before(async () => {
    factus = await startFactusEmulator();
    factorial = await startFactorialEmulator();
  });
  after(async () => {
    await factus?.stop();
    await factorial?.stop();
  });

  const authorization = fc.option(
    fc.oneof(
      fc.string({ maxLength: 20 }).map((text) => `Basic ${Buffer.from(text).toString('base64')}`),
      fc.constantFrom('Basic', 'Basic ', 'Basic ===', 'Bearer x', 'Basic Og==', 'basic OjpiYWQ='),
    ),
    { nil: undefined },
  );

  it('answers any body with a JSON client error, never a server error', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('factus', 'factorial'),
        fc.option(contentType, { nil: undefined }),
        bodyBytes,
        authorization,
        async (which, type, body, auth) => {
          const emulator = which === 'factus' ? factus : factorial;
          const headers: Record<string, string> = { accept: 'application/json' };
          if (type !== undefined) headers['content-type'] = type;
          if (auth !== undefined) headers.authorization = auth;
          const response = await fetch(emulator.tokenUrl, { method: 'POST', headers, body });
          const text = await response.text();
          assert.ok(response.status >= 400 && response.status < 500, `HTTP ${response.status}: ${text}`);
          const json = JSON.parse(text) as Record<string, unknown>;
          assert.equal(typeof json.error, 'string');
        },
      ),
      fuzzParams(150),
    );
  });

  it('gives tokens for valid password-grant fields in every encoding, whatever extra fields ride along', async () => {
    const credentials = FACTUS_EMULATOR_CREDENTIALS;
    const fields: Record<string, string> = {
      grant_type: 'password',
      client_id: credentials.clientId,
      client_secret: credentials.clientSecret,
      username: credentials.username,
      password: credentials.password,
    };
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('urlencoded', 'json', 'multipart'),
        fc.array(
          fc.tuple(
            fieldName.filter((name) => !Object.hasOwn(fields, name) && !/[\r\n]/.test(name)),
            fc.string({ maxLength: 8 }).filter((value) => !/[\r\n]/.test(value)),
          ),
          { maxLength: 3 },
        ),
        async (encoding, extra) => {
          const all: [string, string][] = [...extra, ...Object.entries(fields)];
          let init: RequestInit;
          if (encoding === 'urlencoded') {
            init = {
              headers: { 'content-type': 'application/x-www-form-urlencoded' },
              body: new URLSearchParams(all).toString(),
            };
          } else if (encoding === 'json') {
            const json = `{${all.map(([name, value]) => `${JSON.stringify(name)}:${JSON.stringify(value)}`).join(',')}}`;
            init = { headers: { 'content-type': 'application/json' }, body: json };
          } else {
            const form = new FormData();
            for (const [name, value] of all) form.append(name, value);
            init = { body: form };
          }
          const response = await fetch(factus.tokenUrl, { method: 'POST', ...init });
          const json = (await response.json()) as Record<string, unknown>;
          assert.equal(response.status, 200, JSON.stringify(json));
          assert.equal(typeof json.access_token, 'string');
        },
      ),
      fuzzParams(60),
    );
  });
});
