/** Bad fault rules and clock bodies: 400 with a JSON error saying what is wrong and what is allowed. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  type FactusRunningEmulator,
  startFactusEmulator,
} from '../../src/emulators/factus/factus-emulator.js';
import { ConfigError } from '../../src/errors.js';
import { listFaults, postFault } from './faults-helpers.js';
import { readJson } from './helpers.js';

let emulator: FactusRunningEmulator;
before(async () => {
  emulator = await startFactusEmulator();
});
after(() => emulator.stop());

/** Each bad body, and what its message must name (the field and what is allowed). */
const BAD_RULES: { name: string; body: unknown; message: RegExp }[] = [
  {
    name: 'unknown point',
    body: { point: 'tokens', status: 503 },
    message: /point must be one of token, api, got "tokens"/,
  },
  { name: 'missing point', body: { status: 503 }, message: /point is required: one of token, api/ },
  {
    name: 'a point this emulator does not serve',
    body: { point: 'authorize', status: 500 },
    message: /"authorize" does not exist on this emulator.*token, api/,
  },
  {
    name: 'status below 100',
    body: { point: 'token', status: 99 },
    message: /status must be an HTTP status from 100 to 599, got 99/,
  },
  {
    name: 'status above 599',
    body: { point: 'token', status: 600 },
    message: /status must be an HTTP status from 100 to 599, got 600/,
  },
  {
    name: 'status as a string',
    body: { point: 'token', status: '503' },
    message: /status must be .* got "503"/,
  },
  {
    name: 'ratio 0',
    body: { point: 'api', status: 503, ratio: 0 },
    message: /ratio must be a number greater than 0 and at most 1, got 0/,
  },
  {
    name: 'ratio above 1',
    body: { point: 'api', status: 503, ratio: 1.5 },
    message: /ratio must be .* got 1\.5/,
  },
  {
    name: 'negative delayMs',
    body: { point: 'api', delayMs: -5 },
    message: /delayMs must be an integer from 0 to \d+, got -5/,
  },
  {
    name: 'negative count',
    body: { point: 'api', status: 500, count: -1 },
    message: /count must be a whole number, 1 or more, got -1/,
  },
  {
    name: 'count 0',
    body: { point: 'api', status: 500, count: 0 },
    message: /count must be a whole number, 1 or more, got 0/,
  },
  {
    name: 'negative forMs',
    body: { point: 'api', status: 500, forMs: -1000 },
    message: /forMs must be a number of milliseconds greater than 0, got -1000/,
  },
  {
    name: 'negative expiresIn',
    body: { point: 'token', expiresIn: -1 },
    message: /expiresIn must be a whole number of seconds, 0 or more, got -1/,
  },
  {
    name: 'negative retryAfter',
    body: { point: 'token', status: 429, retryAfter: -2 },
    message: /retryAfter must be a whole number of seconds .* or an HTTP date/,
  },
  {
    name: 'retryAfter that is no date',
    body: { point: 'token', status: 429, retryAfter: 'soon' },
    message: /retryAfter must be .* got "soon"/,
  },
  {
    name: 'unknown body kind',
    body: { point: 'token', body: 'xml' },
    message: /body must be one of html, invalid-json, empty, got "xml"/,
  },
  {
    name: 'reset not a boolean',
    body: { point: 'token', reset: 'yes' },
    message: /reset must be true or false/,
  },
  {
    name: 'unknown field',
    body: { point: 'token', status: 503, times: 3 },
    message:
      /Unknown field "times"; a rule may have: point, status, retryAfter, delayMs, reset, body, expiresIn, count, ratio, forMs/,
  },
  {
    name: 'reset with a status',
    body: { point: 'token', reset: true, status: 503 },
    message: /reset drops the connection .* cannot go with status/,
  },
  {
    name: 'expiresIn off the token point',
    body: { point: 'api', expiresIn: 0 },
    message: /expiresIn changes token answers only/,
  },
  {
    name: 'expiresIn with a status',
    body: { point: 'token', expiresIn: 0, status: 200 },
    message: /expiresIn .* status .* use one of them/,
  },
  {
    name: 'a body with status 204, which HTTP sends without one',
    body: { point: 'api', status: 204, body: 'html' },
    message:
      /A 204 answer has no body \(HTTP forbids one\), so body cannot go with status 204: drop body, or pick a status that has one/,
  },
  {
    name: 'a body with status 304',
    body: { point: 'token', status: 304, body: 'empty', count: 1 },
    message: /A 304 answer has no body .* body cannot go with status 304/,
  },
  {
    name: 'a body with a 1xx status',
    body: { point: 'token', status: 103, body: 'invalid-json' },
    message: /A 103 answer has no body .* body cannot go with status 103/,
  },
  {
    name: 'a rule that does nothing',
    body: { point: 'token', count: 2 },
    message:
      /The rule does nothing: give it at least one of status, delayMs, reset: true, body, expiresIn, retryAfter/,
  },
  {
    name: 'a JSON array',
    body: [{ point: 'token', status: 503 }],
    message: /body must be a JSON object such as \{"point":"token"/,
  },
  {
    name: 'not JSON',
    body: 'point=token&status=503',
    message: /JSON object such as .* got a body that is not valid JSON/,
  },
  { name: 'no body', body: '', message: /JSON object such as .* got no body/ },
];

describe('POST /__emulator/faults refuses bad rules', () => {
  for (const bad of BAD_RULES) {
    test(bad.name, async () => {
      const reply = await postFault(emulator, bad.body);
      assert.equal(reply.status, 400);
      assert.match(reply.headers.get('content-type') ?? '', /^application\/json/);
      assert.equal(reply.body.error, 'invalid_fault_rule');
      assert.match(reply.body.message as string, bad.message);
      assert.deepEqual(await listFaults(emulator), [], 'nothing was added');
    });
  }

  test('a bodyless status without a body, or a body with a status that has one, is accepted', async () => {
    for (const rule of [
      { point: 'api', status: 204 },
      { point: 'token', status: 304, retryAfter: 5 },
      { point: 'api', status: 200, body: 'empty' },
    ]) {
      const reply = await postFault(emulator, rule);
      assert.equal(reply.status, 201, JSON.stringify(reply.body));
    }
    emulator.faults.clear();
  });

  test('every problem of a rule is named at once', async () => {
    const reply = await postFault(emulator, { point: 'nowhere', status: 1000, ratio: 2 });
    assert.equal(reply.status, 400);
    const message = reply.body.message as string;
    for (const field of ['point', 'status', 'ratio']) assert.match(message, new RegExp(`${field} must be`));
  });

  test('faults.add() refuses the same rules with a ConfigError', () => {
    assert.throws(
      () => emulator.faults.add({ point: 'token', status: 700 }),
      (error: unknown) =>
        error instanceof ConfigError && /status must be an HTTP status from 100 to 599/.test(error.message),
    );
    assert.deepEqual(emulator.faults.list(), []);
  });
});

describe('POST /__emulator/clock refuses bad bodies', () => {
  const cases: { name: string; body: string; message: RegExp }[] = [
    {
      name: 'skewMs not a number',
      body: '{"skewMs":"5s"}',
      message: /skewMs must be a whole number of milliseconds.*got "5s"/,
    },
    { name: 'skewMs missing', body: '{}', message: /skewMs must be a whole number .* got nothing/ },
    { name: 'fractional skewMs', body: '{"skewMs":1.5}', message: /skewMs must be a whole number/ },
    {
      name: 'unknown field',
      body: '{"skewMs":1,"offset":2}',
      message: /Unknown field "offset"; the only field is skewMs/,
    },
    { name: 'not JSON', body: 'skewMs=5', message: /JSON object such as \{"skewMs":30000\}/ },
    {
      name: 'skewMs past a thousand years (a date JavaScript cannot write)',
      body: '{"skewMs":8640000000000000}',
      message: /from -31556952000000 to 31556952000000 \(a thousand years/,
    },
    {
      name: 'skewMs just past a thousand years behind',
      body: '{"skewMs":-31556952000001}',
      message: /a thousand years/,
    },
  ];
  for (const bad of cases) {
    test(bad.name, async () => {
      const reply = await readJson(
        await fetch(`${emulator.url}/__emulator/clock`, { method: 'POST', body: bad.body }),
      );
      assert.equal(reply.status, 400);
      assert.equal(reply.body.error, 'invalid_clock');
      assert.match(reply.body.message as string, bad.message);
      const clock = await readJson(await fetch(`${emulator.url}/__emulator/clock`));
      assert.equal(clock.status, 200, 'a refused skew leaves the clock as it was');
      assert.equal(clock.body.skewMs, 0);
    });
  }

  test('a thousand years either way is accepted, and "now" stays a four-digit year', async () => {
    for (const skewMs of [31556952000000, -31556952000000]) {
      const set = await readJson(
        await fetch(`${emulator.url}/__emulator/clock`, { method: 'POST', body: JSON.stringify({ skewMs }) }),
      );
      assert.equal(set.status, 200);
      assert.equal(set.body.skewMs, skewMs);
      assert.match(set.body.now as string, /^\d{4}-/);
    }
    await fetch(`${emulator.url}/__emulator/clock`, { method: 'POST', body: '{"skewMs":0}' });
  });
});
