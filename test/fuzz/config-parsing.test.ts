/**
 * Properties of configuration, environment and store-URL parsing: store locations
 * (TOKENKEEPER_STORE, --store), URL redaction, encryption keys (TOKENKEEPER_KEY, key files),
 * keeper options and the CLI's argument parsing. Each either gives a usable value or throws a
 * typed error (ConfigError / UsageError) that never echoes a secret.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parseCommandArgs } from '../../src/cli/args.js';
import { resolveKeeperOptions } from '../../src/options.js';
import {
  parseEncryptionKey,
  parsePreviousEncryptionKeys,
  resolveEncryptionKey,
} from '../../src/store/encryption.js';
import { openStore, parseStoreLocation } from '../../src/store/open-store.js';
import { redactConnectionUrl } from '../../src/store/redact-url.js';
import { assertTyped, fc, fuzzParams } from './fuzz-settings.js';

const cwd = path.join(path.sep, 'nonexistent-fuzz-cwd');
const dataDir = path.join(path.sep, 'nonexistent-fuzz-data');

const schemes = fc.constantFrom(
  '',
  'memory:',
  'MEMORY://',
  'sqlite:',
  'sqlite://',
  'sqlite:///',
  'file:',
  'file://',
  'file:///',
  'file://host/',
  'postgres://',
  'postgresql://',
  'POSTGRES://',
  'redis://',
  'rediss://',
  'mysql://',
  'C:\\',
  'c:/',
  '~',
  '~/',
  './',
  '/',
  '\\\\server\\share\\',
);

const locationText = fc.oneof(
  fc.tuple(schemes, fc.string({ maxLength: 30 })).map(([scheme, rest]) => scheme + rest),
  fc
    .tuple(schemes, fc.webUrl({ withQueryParameters: true, withFragments: true }))
    .map(([scheme, url]) => scheme + url.replace(/^https?:\/\//, '')),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
);

describe('fuzz: store locations', () => {
  it('parseStoreLocation gives a well-formed location or a ConfigError', () => {
    fc.assert(
      fc.property(fc.option(locationText, { nil: undefined }), (location) => {
        let parsed: ReturnType<typeof parseStoreLocation>;
        try {
          parsed = parseStoreLocation(location, { cwd, dataDir, env: {} });
        } catch (error) {
          assertTyped(error, ['CONFIG']);
          return;
        }
        const lower = (location ?? '').trim().toLowerCase();
        switch (parsed.kind) {
          case 'memory':
            assert.ok(lower === 'memory:' || lower === 'memory://', `memory from ${location}`);
            break;
          case 'sqlite':
            assert.ok(path.isAbsolute(parsed.path), `absolute database path ${parsed.path}`);
            assert.equal(path.dirname(parsed.keyFile), path.dirname(parsed.path));
            assert.ok(parsed.keyFile.endsWith('.key'));
            assert.notEqual(parsed.keyFile, parsed.path);
            if (lower === '') assert.equal(path.dirname(parsed.path), dataDir);
            break;
          case 'postgres':
            assert.match(lower, /^postgres(ql)?:\/\//);
            assert.equal(new URL(parsed.url).searchParams.has('schema'), false);
            break;
          case 'redis':
            assert.match(lower, /^rediss?:\/\//);
            assert.equal(new URL(parsed.url).searchParams.has('prefix'), false);
            break;
        }
      }),
      fuzzParams(1000),
    );
  });

  it('takes ?schema= and ?prefix= out of remote URLs and keeps the rest', () => {
    const word = fc.stringMatching(/^[a-z][a-z0-9_]{0,11}$/);
    fc.assert(
      fc.property(
        fc.constantFrom('postgres', 'postgresql', 'redis', 'rediss'),
        word,
        fc.option(fc.string({ minLength: 1, maxLength: 12 }), { nil: undefined }),
        fc.option(word, { nil: undefined }),
        (scheme, host, param, other) => {
          const url = new URL(`${scheme}://${host}:5432/db`);
          const name = scheme.startsWith('redis') ? 'prefix' : 'schema';
          if (param !== undefined) url.searchParams.set(name, param);
          if (other !== undefined) url.searchParams.set('application_name', other);
          const parsed = parseStoreLocation(url.toString(), { cwd, dataDir, env: {} });
          assert.equal(parsed.kind, scheme.startsWith('redis') ? 'redis' : 'postgres');
          const taken =
            parsed.kind === 'redis' ? parsed.keyPrefix : parsed.kind === 'postgres' ? parsed.schema : '';
          assert.equal(taken, param);
          const rest = new URL((parsed as { url: string }).url);
          assert.equal(rest.hostname, host);
          assert.equal(rest.searchParams.get('application_name'), other ?? null);
        },
      ),
      fuzzParams(300),
    );
  });

  it('redactConnectionUrl never throws and never shows the password', () => {
    const password = fc.stringMatching(/^[A-Z0-9]{6,16}$/).map((text) => `Pw${text}`);
    fc.assert(
      fc.property(
        fc.oneof(
          fc
            .tuple(fc.constantFrom('postgres', 'redis', 'rediss'), password, fc.webUrl())
            .map(([scheme, secret, url]) => ({
              url: url.replace(/^https?:\/\//, `${scheme}://user:${secret}@`),
              secret,
            })),
          fc.string({ maxLength: 40 }).map((url) => ({ url, secret: undefined })),
        ),
        ({ url, secret }) => {
          const shown = redactConnectionUrl(url);
          assert.equal(typeof shown, 'string');
          if (secret !== undefined) {
            assert.ok(!shown.includes(secret), `${shown} shows the password`);
            assert.ok(!shown.includes(encodeURIComponent(secret)));
          }
        },
      ),
      fuzzParams(300),
    );
  });
});

describe('fuzz: encryption keys', () => {
  it('parseEncryptionKey gives 32 bytes or a ConfigError that does not echo the value', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 80 }),
          fc.stringMatching(/^[A-Za-z0-9+/_=-]{40,48}$/),
          fc.stringMatching(/^[0-9a-fA-FxX ]{60,68}$/),
          fc
            .uint8Array({ minLength: 0, maxLength: 40 })
            .map((bytes) => Buffer.from(bytes).toString('base64')),
        ),
        (text) => {
          try {
            const key = parseEncryptionKey(text, 'TOKENKEEPER_KEY');
            assert.ok(Buffer.isBuffer(key));
            assert.equal(key.length, 32);
          } catch (error) {
            assertTyped(error, ['CONFIG']);
            const value = text.trim();
            if (value.length >= 8) assert.ok(!error.message.includes(value), 'the key is not echoed');
          }
        },
      ),
      fuzzParams(1000),
    );
  });

  it('parsePreviousEncryptionKeys gives 32-byte keys or a ConfigError naming the entry, never echoing it', () => {
    const entry = fc.oneof(
      fc.string({ maxLength: 60 }),
      fc.uint8Array({ minLength: 32, maxLength: 32 }).map((bytes) => Buffer.from(bytes).toString('base64')),
      fc.uint8Array({ minLength: 32, maxLength: 32 }).map((bytes) => Buffer.from(bytes).toString('hex')),
    );
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 4 }), (entries) => {
        const text = entries.join(',');
        try {
          for (const key of parsePreviousEncryptionKeys(text)) assert.equal(key.length, 32);
        } catch (error) {
          assertTyped(error, ['CONFIG']);
          assert.match(
            error.message,
            /^TOKENKEEPER_PREVIOUS_KEYS \(entry \d+\) is not a valid encryption key/,
          );
          for (const value of text.split(',').map((part) => part.trim())) {
            if (value.length >= 8) assert.ok(!error.message.includes(value), 'no entry is echoed');
          }
        }
      }),
      fuzzParams(500),
    );
  });

  it('reads back any 32-byte key written as base64, base64url or hex', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.constantFrom('base64', 'base64-unpadded', 'base64url', 'hex', 'HEX'),
        fc.constantFrom('', ' ', '\n', '\t', '\r\n'),
        (bytes, form, space) => {
          const key = Buffer.from(bytes);
          const text =
            form === 'base64'
              ? key.toString('base64')
              : form === 'base64-unpadded'
                ? key.toString('base64').replace(/=+$/, '')
                : form === 'base64url'
                  ? key.toString('base64url')
                  : form === 'hex'
                    ? key.toString('hex')
                    : key.toString('hex').toUpperCase();
          assert.deepEqual(parseEncryptionKey(`${space}${text}${space}`), key);
        },
      ),
      fuzzParams(300),
    );
  });

  it('TOKENKEEPER_KEY from the environment opens a memory store or fails with a ConfigError', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.option(
          fc.oneof(
            fc.string({ maxLength: 70 }),
            fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('base64')),
          ),
          { nil: undefined },
        ),
        async (value) => {
          const env = value === undefined ? {} : { TOKENKEEPER_KEY: value };
          const blank = value === undefined || value.trim() === '';
          await resolveEncryptionKey({ env }).then(
            (key) => assert.ok(!blank && key.length === 32),
            (error: unknown) => assertTyped(error, ['CONFIG']),
          );
          try {
            const { store, secretBox } = await openStore('memory:', { env });
            assert.equal(secretBox.open(secretBox.seal('s', 'c'), 'c'), 's');
            await store.close();
          } catch (error) {
            assertTyped(error, ['CONFIG']);
            assert.ok(!blank, 'a blank key means a random one for a memory store');
          }
          // A remote store without a key is refused before any connection is made.
          if (blank) {
            await assert.rejects(openStore('postgres://127.0.0.1:9/db', { env }), (error: unknown) => {
              assertTyped(error, ['CONFIG']);
              return true;
            });
          }
        },
      ),
      fuzzParams(200),
    );
  });
});

describe('fuzz: keeper options', () => {
  const numberLike = fc.oneof(
    fc.double(),
    fc.integer(),
    fc.constantFrom(0, -0, 0.5, 1, 2 ** 31 - 1, 2 ** 31, 1e20, Number.MAX_VALUE, Number.NaN, Infinity),
    fc.anything({ maxDepth: 0 }) as fc.Arbitrary<number>,
  );
  const MAX_TIMER_MS = 2 ** 31 - 1;

  it('resolveKeeperOptions gives settings a timer can use, or a ConfigError', () => {
    fc.assert(
      fc.property(
        fc.record(
          {
            requestTimeoutMs: numberLike,
            lockTtlMs: numberLike,
            lockWaitMs: numberLike,
            maxRetryAfterSeconds: numberLike,
            refreshMarginSeconds: numberLike,
            proactiveRefresh: fc.anything({ maxDepth: 0 }) as fc.Arbitrary<boolean>,
          },
          { requiredKeys: [] },
        ),
        (options) => {
          let settings: ReturnType<typeof resolveKeeperOptions>;
          try {
            settings = resolveKeeperOptions({ ...options, env: {} });
          } catch (error) {
            assertTyped(error, ['CONFIG']);
            return;
          }
          for (const [name, ms, min] of [
            ['requestTimeoutMs', settings.requestTimeoutMs, Number.MIN_VALUE],
            ['preflightTimeoutMs', settings.preflightTimeoutMs, Number.MIN_VALUE],
            ['lock.ttlMs', settings.lock.ttlMs, 1],
            ['lock.waitMs', settings.lock.waitMs, Number.MIN_VALUE],
            ['maxRetryAfterMs', settings.rateLimit.maxRetryAfterMs, 0],
          ] as const) {
            assert.equal(typeof ms, 'number', name);
            assert.ok(ms >= min && ms <= MAX_TIMER_MS, `${name} = ${ms} fits a timer`);
          }
          AbortSignal.timeout(settings.requestTimeoutMs); // throws a RangeError past its range
          assert.ok(settings.refreshTiming.marginMs >= 0, `margin ${settings.refreshTiming.marginMs}`);
          assert.equal(typeof settings.proactiveRefresh, 'boolean');
        },
      ),
      fuzzParams(1000),
    );
  });
});

describe('fuzz: CLI arguments', () => {
  const schema = {
    provider: { type: 'string' },
    'base-url': { type: 'string' },
    scope: { type: 'string', multiple: true },
    'no-browser': { type: 'boolean' },
    json: { type: 'boolean', short: 'j' },
    store: { type: 'string', short: 's' },
  } as const;
  const usage = 'tokenkeeper fuzz <name> [--provider p] [--json]';
  const argument = fc.oneof(
    fc.constantFrom(
      '--provider',
      '--provider=factus',
      '--base-url',
      '--scope',
      '--scope=a b',
      '--no-browser',
      '--no-browser=yes',
      '--json',
      '-j',
      '-js',
      '-sj',
      '-s',
      '--store=memory:',
      '--',
      '-',
      '--help',
      '-h',
      '-hj',
      '--unknown',
      '-x',
      '---',
      '--=',
      '--constructor',
      '--__proto__',
      'acme',
    ),
    fc.string({ maxLength: 12 }),
    fc.string({ maxLength: 8 }).map((text) => `--${text}`),
    fc.string({ maxLength: 4 }).map((text) => `-${text}`),
  );

  it('parseCommandArgs parses, prints usage for --help, or throws a UsageError', () => {
    fc.assert(
      fc.property(fc.array(argument, { maxLength: 8 }), (argv) => {
        let written = '';
        const stdout = {
          write(chunk: string) {
            written += chunk;
            return true;
          },
        } as unknown as NodeJS.WritableStream;
        let parsed: ReturnType<typeof parseCommandArgs<typeof schema>>;
        try {
          parsed = parseCommandArgs([...argv], schema, usage, { stdout });
        } catch (error) {
          assertTyped(error, ['USAGE']);
          assert.ok(error.message.endsWith(`Usage: ${usage}`), error.message);
          assert.equal(written, '');
          return;
        }
        const beforeDashes = argv.includes('--') ? argv.slice(0, argv.indexOf('--')) : argv;
        if (parsed === undefined) {
          assert.equal(written, `Usage: ${usage}\n`);
          assert.ok(beforeDashes.some((arg) => arg === '--help' || /^-[a-z]*h/.test(arg)));
          return;
        }
        assert.equal(written, '');
        assert.ok(!beforeDashes.includes('--help') && !beforeDashes.includes('-h'));
        for (const positional of parsed.positionals) assert.equal(typeof positional, 'string');
        const values = parsed.values as Record<string, unknown>;
        for (const [name, value] of Object.entries(values)) {
          const option = (schema as Record<string, { type: string; multiple?: boolean }>)[name];
          assert.ok(option !== undefined || name === 'help', `unknown option ${name} parsed`);
          const expected = option?.type ?? 'boolean';
          if (option?.multiple) {
            assert.ok(Array.isArray(value) && value.every((item) => typeof item === expected));
          } else assert.equal(typeof value, expected, name);
        }
      }),
      fuzzParams(1000),
    );
  });
});
