import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  type FactusRunningEmulator,
  startFactusEmulator,
} from '../../src/emulators/factus/factus-emulator.js';
import { callApi, type JsonReply, login, validBill, validBillV2 } from './helpers.js';

type Envelope = { status: string; message: string; data: Record<string, unknown> };
type Page = {
  data: Array<Record<string, unknown>>;
  pagination: {
    total: number;
    per_page: number;
    current_page: number;
    last_page: number;
    from: number | null;
    to: number | null;
    links: Array<{ url: string | null; label: string; active: boolean }>;
  };
};

describe('Factus emulator bills API', () => {
  let emulator: FactusRunningEmulator;
  let token: string;
  const api = (path: string, init?: Parameters<typeof callApi>[3]) =>
    callApi(emulator, token, path, init) as Promise<JsonReply<Envelope>>;

  before(async () => {
    emulator = await startFactusEmulator();
    token = (await login(emulator)).access_token;
  });
  after(() => emulator.stop());

  test('the bill list is seeded and paginated in the Factus envelope', async () => {
    const reply = await api('/v1/bills');
    assert.equal(reply.status, 200);
    assert.equal(reply.body.status, 'OK');
    assert.equal(reply.body.message, 'Solicitud exitosa');
    const page = reply.body.data as unknown as Page;
    assert.ok(page.data.length >= 3);
    assert.equal(page.pagination.current_page, 1);
    assert.equal(page.pagination.per_page, 10);
    assert.equal(page.pagination.from, 1);
    assert.equal(page.pagination.to, page.data.length);
    assert.ok(Array.isArray(page.pagination.links));
    const row = page.data[0]!;
    assert.match(row.number as string, /^SETP99\d{7}$/);
    for (const key of [
      'id',
      'reference_code',
      'identification',
      'names',
      'email',
      'total',
      'status',
      'created_at',
    ]) {
      assert.ok(key in row, `row has ${key}`);
    }
  });

  test('POST /v1/bills/validate creates a numbered bill with CUFE and QR (201 Created)', async () => {
    const reply = await api('/v1/bills/validate', { method: 'POST', json: validBill('REF-CREATE-1') });
    assert.equal(reply.status, 201);
    assert.equal(reply.body.status, 'Created');
    const bill = reply.body.data.bill as Record<string, unknown>;
    assert.match(bill.number as string, /^SETP99\d{7}$/);
    assert.equal(bill.reference_code, 'REF-CREATE-1');
    assert.equal(bill.status, 1);
    assert.match(bill.cufe as string, /^[0-9a-f]{96}$/);
    assert.match(bill.qr as string, /^https:\/\/.+documentkey=[0-9a-f]{96}$/);
    assert.equal(bill.total, '119000.00');
    assert.equal(bill.tax_amount, '19000.00');
    const items = reply.body.data.items as Array<Record<string, unknown>>;
    assert.equal(items.length, 1);
    assert.equal(items[0]!.code_reference, '12345');

    const next = await api('/v1/bills/validate', { method: 'POST', json: validBill('REF-CREATE-2') });
    const nextNumber = (next.body.data.bill as { number: string }).number;
    assert.equal(
      Number(nextNumber.slice(4)),
      Number((bill.number as string).slice(4)) + 1,
      'numbers are sequential',
    );
    assert.ok(reply.headers.get('x-ratelimit-limit'));
  });

  test('a used reference_code is 409', async () => {
    await api('/v1/bills/validate', { method: 'POST', json: validBill('REF-DUP') });
    const reply = await api('/v1/bills/validate', { method: 'POST', json: validBill('REF-DUP') });
    assert.equal(reply.status, 409);
    assert.match(reply.body.message, /^Ya existe un documento con el código de referencia REF-DUP/);
    assert.equal(reply.body.status, 'Conflict');
  });

  test('missing fields are 422 with the validation envelope, field by field', async () => {
    const body = validBill('REF-422');
    delete body.reference_code;
    (body.customer as Record<string, unknown>).email = 'not-an-email';
    (body.items as Array<Record<string, unknown>>)[0]!.quantity = 0;
    delete (body.items as Array<Record<string, unknown>>)[0]!.code_reference;
    const reply = await api('/v1/bills/validate', { method: 'POST', json: body });
    assert.equal(reply.status, 422);
    assert.equal(reply.body.status, 'Validation error');
    assert.equal(reply.body.message, 'Error de validación');
    const errors = reply.body.data.errors as Record<string, string[]>;
    assert.deepEqual(Object.keys(errors).sort(), [
      'customer.email',
      'items.0.code_reference',
      'items.0.quantity',
      'reference_code',
    ]);
    assert.ok(Array.isArray(errors.reference_code));
    assert.match(reply.body.data.message as string, /reference_code es obligatorio\. \(y 3 errores más\)/);
  });

  test('an empty or non-JSON body is 422 listing the required fields', async () => {
    const reply = await api('/v1/bills/validate', { method: 'POST', json: [] });
    assert.equal(reply.status, 422);
    const errors = reply.body.data.errors as Record<string, string[]>;
    for (const field of ['reference_code', 'numbering_range_id', 'customer', 'items'])
      assert.ok(field in errors);
  });

  test('an unknown numbering range, a negative price, and no items are 422', async () => {
    const body = validBill('REF-RANGE');
    body.numbering_range_id = 999;
    (body.items as Array<Record<string, unknown>>)[0]!.price = -1;
    const reply = await api('/v1/bills/validate', { method: 'POST', json: body });
    assert.equal(reply.status, 422);
    const errors = reply.body.data.errors as Record<string, string[]>;
    assert.ok('numbering_range_id' in errors);
    assert.ok('items.0.price' in errors);

    const empty = await api('/v1/bills/validate', {
      method: 'POST',
      json: { ...validBill('REF-EMPTY'), items: [] },
    });
    assert.equal(empty.status, 422);
    assert.ok('items' in (empty.body.data.errors as object));
  });

  test('a DIAN rule rejection is 422 keyed by the rule code', async () => {
    const body = validBill('REF-FAK24');
    (body.customer as Record<string, unknown>).identification = 'ABC-12';
    const reply = await api('/v1/bills/validate', { method: 'POST', json: body });
    assert.equal(reply.status, 422);
    const errors = reply.body.data.errors as Record<string, string>;
    assert.match(errors.FAK24 as string, /^Regla: FAK24, Rechazo: /);
  });

  test('show returns the bill; an unknown number is 404 in the envelope', async () => {
    const created = await api('/v1/bills/validate', { method: 'POST', json: validBill('REF-SHOW') });
    const number = (created.body.data.bill as { number: string }).number;
    const shown = await api(`/v1/bills/show/${number}`);
    assert.equal(shown.status, 200);
    assert.equal((shown.body.data.bill as { reference_code: string }).reference_code, 'REF-SHOW');
    const missing = await api('/v1/bills/show/SETP000');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.status, 'Not Found');
    assert.equal(typeof missing.body.message, 'string');
  });

  test('download-pdf returns a small valid PDF in base64', async () => {
    const created = await api('/v1/bills/validate', { method: 'POST', json: validBill('REF-PDF') });
    const number = (created.body.data.bill as { number: string }).number;
    const reply = await api(`/v1/bills/download-pdf/${number}`);
    assert.equal(reply.status, 200);
    assert.equal(typeof reply.body.data.file_name, 'string');
    const pdf = Buffer.from(reply.body.data.pdf_base_64_encoded as string, 'base64').toString('latin1');
    assert.ok(pdf.startsWith('%PDF-1.'));
    assert.ok(pdf.trimEnd().endsWith('%%EOF'));
    assert.ok(pdf.includes(number));
    const startxref = Number(pdf.match(/startxref\n(\d+)/)?.[1]);
    assert.equal(pdf.slice(startxref, startxref + 4), 'xref');
    assert.equal((await api('/v1/bills/download-pdf/SETP000')).status, 404);
  });

  test('destroy by reference removes a bill DIAN refused and frees the reference_code', async () => {
    // v1 validates at once; a bill DIAN refused comes from v2 and blocks v1 sends as well.
    const refused = await api('/v2/bills/validate', {
      method: 'POST',
      json: validBillV2('REF-DEL', '12-AB'),
    });
    assert.equal(refused.status, 422);
    const blocked = await api('/v1/bills/validate', { method: 'POST', json: validBill('REF-OTHER') });
    assert.equal(blocked.status, 409);
    assert.match(blocked.body.message, /^Se encontró una factura pendiente por enviar a la DIAN .* REF-DEL;/);
    const removed = await api('/v1/bills/destroy/reference/REF-DEL', { method: 'DELETE' });
    assert.equal(removed.status, 200);
    assert.equal(removed.body.status, 'OK');
    assert.equal((await api('/v1/bills/destroy/reference/REF-DEL', { method: 'DELETE' })).status, 404);
    const again = await api('/v1/bills/validate', { method: 'POST', json: validBill('REF-DEL') });
    assert.equal(again.status, 201);
  });

  test('destroy by reference keeps a bill DIAN validated: 409, as on v2', async () => {
    const created = await api('/v1/bills/validate', { method: 'POST', json: validBill('REF-KEPT') });
    const number = (created.body.data.bill as { number: string }).number;
    const refused = await api('/v1/bills/destroy/reference/REF-KEPT', { method: 'DELETE' });
    assert.equal(refused.status, 409);
    assert.match(refused.body.message, /ya fue validada por la DIAN y no se puede eliminar/);
    assert.equal((await api(`/v1/bills/download-pdf/${number}`)).status, 200);
  });

  test('filters and pages', async () => {
    for (let index = 0; index < 12; index += 1) {
      const reply = await api('/v1/bills/validate', { method: 'POST', json: validBill(`PAGE-${index}`) });
      assert.equal(reply.status, 201);
    }
    const first = (await api('/v1/bills?page=1')).body.data as unknown as Page;
    assert.ok(first.pagination.total >= 17);
    assert.equal(first.data.length, 10);
    assert.equal(first.pagination.last_page, Math.ceil(first.pagination.total / 10));
    const second = (await api('/v1/bills?page=2')).body.data as unknown as Page;
    assert.equal(second.pagination.current_page, 2);
    assert.equal(second.pagination.from, 11);
    assert.notDeepEqual(
      second.data.map((row) => row.number),
      first.data.map((row) => row.number),
    );
    const active = first.pagination.links.find((link) => link.active);
    assert.equal(active?.label, '1');

    const filtered = (await api('/v1/bills?filter[reference_code]=PAGE-1')).body.data as unknown as Page;
    assert.deepEqual(filtered.data.map((row) => row.reference_code).sort(), ['PAGE-1', 'PAGE-10', 'PAGE-11']);
    const one = filtered.data[0]!.number as string;
    const byNumber = (await api(`/v1/bills?filter[number]=${one}`)).body.data as unknown as Page;
    assert.deepEqual(
      byNumber.data.map((row) => row.number),
      [one],
    );
    const beyond = (await api('/v1/bills?page=99')).body.data as unknown as Page;
    assert.deepEqual(beyond.data, []);
    assert.equal(beyond.pagination.from, null);
  });

  test('numbering ranges are listed', async () => {
    const reply = await api('/v1/numbering-ranges');
    assert.equal(reply.status, 200);
    const page = reply.body.data as unknown as Page;
    const range = page.data.find((row) => row.id === 8);
    assert.equal(range?.prefix, 'SETP');
  });

  test('v2 is not v1 under /v2: the v1 shape of a path is unknown there, and a v1 body is refused', async () => {
    const created = await api('/v1/bills/validate', { method: 'POST', json: validBill('REF-V1-ONLY') });
    const number = (created.body.data.bill as { number: string }).number;
    assert.equal((await api(`/v2/bills/show/${number}`)).status, 404);
    assert.equal((await api(`/v2/bills/download-pdf/${number}`)).status, 404);
    const v1Body = await api('/v2/bills/validate', { method: 'POST', json: validBill('REF-V1-BODY') });
    assert.equal(v1Body.status, 422);
    assert.ok('payment_details' in (v1Body.body.data.errors as object));
  });

  test('API routes need a token; a wrong method is 405', async () => {
    const anonymous = await callApi(emulator, undefined, '/v1/bills');
    assert.equal(anonymous.status, 401);
    assert.deepEqual(anonymous.body, { message: 'Unauthenticated.' });
    const wrongMethod = await api('/v1/bills', { method: 'PUT' });
    assert.equal(wrongMethod.status, 405);
  });
});
