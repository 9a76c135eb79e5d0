import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { FakeClock } from '../../src/clock.js';
import {
  type FactusEmulatorOptions,
  type FactusRunningEmulator,
  startFactusEmulator,
} from '../../src/emulators/factus/factus-emulator.js';
import { callApi, type JsonReply, login, validBill, validBillV2 } from './helpers.js';

type Envelope = { status: string; message: string; data: Record<string, unknown> };

const running: FactusRunningEmulator[] = [];
after(() => Promise.all(running.map((emulator) => emulator.stop())));

async function start(options: FactusEmulatorOptions = {}) {
  const clock = new FakeClock(Date.UTC(2026, 2, 1, 15));
  const emulator = await startFactusEmulator({ now: () => clock.now(), ...options });
  running.push(emulator);
  const token = (await login(emulator)).access_token;
  const api = (path: string, init?: Parameters<typeof callApi>[3]) =>
    callApi(emulator, token, path, init) as Promise<JsonReply<Envelope>>;
  return { emulator, api, clock };
}

const send = (api: Awaited<ReturnType<typeof start>>['api'], body: unknown) =>
  api('/v2/bills/validate', { method: 'POST', json: body });

describe('Factus v2 bills', () => {
  test('a v2 body is validated by DIAN at once: is_validated, validated_at, its own paths', async () => {
    const { api } = await start();
    const created = await send(api, validBillV2('V2-OK'));
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const bill = created.body.data;
    assert.equal(bill.is_validated, true);
    assert.equal(bill.validated_at, '01-03-2026 10:00:00 AM');
    assert.deepEqual(bill.errors, []);
    assert.equal((bill.totals as Record<string, string>).total, '119000.00');
    assert.deepEqual((bill.payment_details as Array<Record<string, unknown>>)[0]?.amount, '119000.00');
    const number = String(bill.number);

    const shown = await api(`/v2/bills/${number}`);
    assert.equal(shown.status, 200);
    assert.equal(shown.body.data.reference_code, 'V2-OK');
    const pdf = await api(`/v2/bills/${number}/download-pdf`);
    assert.match(
      Buffer.from(String(pdf.body.data.pdf_base_64_encoded), 'base64').toString('latin1'),
      /^%PDF-/,
    );
    for (const action of ['download-xml', 'download-attached-document-xml']) {
      const xml = await api(`/v2/bills/${number}/${action}`);
      assert.equal(xml.status, 200, action);
      assert.match(
        Buffer.from(String(xml.body.data.xml_base_64_encoded), 'base64').toString('utf8'),
        new RegExp(number),
      );
    }
    assert.equal((await api(`/v2/bills/${number}/email-content`)).body.data.subject !== undefined, true);
    assert.equal(
      (await api(`/v2/bills/${number}/send-email`, { method: 'POST', json: { email: 'a@b.co' } })).status,
      200,
    );
    assert.equal(
      (await api(`/v2/bills/${number}/send-email`, { method: 'POST', json: { email: 'nope' } })).status,
      422,
    );
    assert.deepEqual((await api(`/v2/bills/${number}/radian/events`)).body.data, []);
    const listed = await api('/v2/bills?filter[reference_code]=V2-OK');
    const rows = (listed.body.data as unknown as { data: Array<Record<string, unknown>> }).data;
    assert.deepEqual(
      rows.map((row) => [row.number, row.is_validated]),
      [[number, true]],
    );
    // A validated bill cannot be deleted (it needs a credit note).
    assert.equal((await api('/v2/bills/destroy/reference/V2-OK', { method: 'DELETE' })).status, 409);
  });

  test('the v2 body shape: payment_details and a taxes list per item are required', async () => {
    const { api } = await start();
    const body = validBillV2('V2-SHAPE');
    delete body.payment_details;
    (body.items as Array<Record<string, unknown>>)[0]!.taxes = undefined;
    const reply = await send(api, body);
    assert.equal(reply.status, 422);
    const errors = (reply.body.data as { errors: Record<string, string[]> }).errors;
    assert.deepEqual(Object.keys(errors).sort(), ['items.0.taxes', 'payment_details']);
    assert.equal(errors['items.0.taxes']?.[0], 'El campo items.0.taxes es obligatorio.');
  });

  test('a bill failing a DIAN rule is kept with its errors and blocks every send with 409 until deleted', async () => {
    const { api } = await start();
    const rejected = await send(api, validBillV2('V2-FAK24', '12-AB'));
    assert.equal(rejected.status, 422);
    const data = rejected.body.data as {
      errors: Record<string, string>;
      bill: { number: string; is_validated: boolean };
    };
    assert.match(data.errors.FAK24 ?? '', /^Regla: FAK24, Rechazo:/);
    assert.equal(data.bill.is_validated, false);

    const kept = await api(`/v2/bills/${data.bill.number}`);
    assert.equal(kept.body.data.is_validated, false);
    assert.equal(kept.body.data.validated_at, null);
    assert.deepEqual(Object.keys(kept.body.data.errors as object), ['FAK24']);

    for (const [body, path] of [
      [validBillV2('V2-NEXT'), '/v2/bills/validate'],
      [validBillV2('V2-FAK24', '12-AB'), '/v2/bills/validate'],
      [validBill('V1-NEXT'), '/v1/bills/validate'],
    ] as const) {
      const blocked = await api(path, { method: 'POST', json: body });
      assert.equal(blocked.status, 409, path);
      assert.match(blocked.body.message, /Se encontró una factura pendiente por enviar a la DIAN/);
    }
    assert.equal((await api('/v2/bills/destroy/reference/V2-FAK24', { method: 'DELETE' })).status, 200);
    assert.equal((await send(api, validBillV2('V2-NEXT'))).status, 201);
  });

  test('slow DIAN (dianPendingSends): is_validated false without errors; the same payload again is safe', async () => {
    const { api } = await start({ dianPendingSends: 2 });
    const body = validBillV2('V2-SLOW');
    const first = await send(api, body);
    assert.equal(first.status, 201);
    assert.equal(first.body.data.is_validated, false);
    assert.deepEqual(first.body.data.errors, []);
    const number = first.body.data.number;

    assert.equal((await send(api, validBillV2('V2-OTHER'))).status, 409, 'another bill waits');
    const second = await send(api, body);
    assert.deepEqual(
      [second.status, second.body.data.number, second.body.data.is_validated],
      [201, number, false],
    );
    const third = await send(api, body);
    assert.deepEqual(
      [third.status, third.body.data.number, third.body.data.is_validated],
      [201, number, true],
    );
    assert.equal((await send(api, body)).body.data.number, number, 'still the same bill afterwards');
    const listed = await api('/v2/bills?filter[reference_code]=V2-SLOW');
    assert.equal((listed.body.data as unknown as { data: unknown[] }).data.length, 1, 'never a duplicate');
    assert.equal((await send(api, validBillV2('V2-OTHER'))).status, 201);
  });
});

describe('Factus v2 credit notes and numbering ranges', () => {
  test('a credit note corrects a validated bill and is listed and shown by number', async () => {
    const { api } = await start();
    const bill = (await send(api, validBillV2('V2-FOR-NOTE'))).body.data;
    const item = (validBillV2('x').items as unknown[])[0];
    const note = await api('/v2/credit-notes/validate', {
      method: 'POST',
      json: { reference_code: 'NC-1', correction_concept_code: '2', bill_id: bill.id, items: [item] },
    });
    assert.equal(note.status, 201, JSON.stringify(note.body));
    assert.equal(note.body.data.number_bill, bill.number);
    assert.equal((await api(`/v2/credit-notes/${note.body.data.number}`)).status, 200);
    assert.equal(
      ((await api('/v2/credit-notes')).body.data as unknown as { data: unknown[] }).data.length,
      1,
    );
    const unknownBill = await api('/v2/credit-notes/validate', {
      method: 'POST',
      json: { reference_code: 'NC-2', correction_concept_code: '2', bill_id: 999, items: [item] },
    });
    assert.equal(unknownBill.status, 422);
  });

  test('ranges: list, DIAN software ranges, one by id, current, and the status toggle stops bills', async () => {
    const { api } = await start();
    assert.equal((await api('/v2/numbering-ranges')).status, 200);
    const dian = await api('/v2/numbering-ranges/dian');
    assert.equal((dian.body.data as unknown as unknown[]).length, 1);
    assert.equal((await api('/v2/numbering-ranges/8')).body.data.prefix, 'SETP');
    const moved = await api('/v2/numbering-ranges/8/current', {
      method: 'PATCH',
      json: { current: 990000500 },
    });
    assert.equal(moved.body.data.current, 990000500);
    assert.equal((await send(api, validBillV2('V2-AFTER-MOVE'))).body.data.number, 'SETP990000501');
    // Back below a number already issued would issue it twice.
    const back = await api('/v2/numbering-ranges/8/current', {
      method: 'PATCH',
      json: { current: 990000001 },
    });
    assert.equal(back.status, 422);
    assert.match(back.body.data.message as string, /no puede ser menor que 990000501/);
    assert.equal((await api('/v2/numbering-ranges/8')).body.data.current, 990000501);
    const same = await api('/v2/numbering-ranges/8/current', {
      method: 'PATCH',
      json: { current: 990000501 },
    });
    assert.equal(same.status, 200);
    assert.equal((await send(api, validBillV2('V2-AFTER-SAME'))).body.data.number, 'SETP990000502');

    const off = await api('/v2/numbering-ranges/8/toggle-status', { method: 'PATCH' });
    assert.equal(off.body.data.is_active, 0);
    assert.equal((await send(api, validBillV2('V2-INACTIVE'))).status, 422);
    const on = await api('/v2/numbering-ranges/8/toggle-status', { method: 'PATCH' });
    assert.equal(on.body.data.is_active, 1);
    const created = await api('/v2/numbering-ranges', {
      method: 'POST',
      json: { document: 'Factura de Venta', prefix: 'FE', from: 1, to: 1000, current: 0 },
    });
    assert.equal(created.status, 201);
  });
});

describe('Factus rights', () => {
  test('a valid token without the rights gets 403 on every endpoint (userRights: none)', async () => {
    const { api, emulator } = await start({ userRights: 'none' });
    for (const path of ['/v1/bills', '/v2/bills', '/v2/numbering-ranges']) {
      const reply = await api(path);
      assert.equal(reply.status, 403, path);
      assert.deepEqual(reply.body, { message: 'This action is unauthorized.' });
    }
    assert.equal(
      (await callApi(emulator, 'not-a-token', '/v2/bills')).status,
      401,
      'a bad token is still 401',
    );
  });
});
