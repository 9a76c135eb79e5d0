/**
 * Factus v2 bill routes. They have their own paths (the document number in the path, the
 * action after it), not v1's under `/v2`:
 * `POST /v2/bills/validate`, `GET /v2/bills`, `GET /v2/bills/{number}`,
 * `GET /v2/bills/{number}/download-pdf|download-xml|download-attached-document-xml|email-content`,
 * `POST /v2/bills/{number}/send-email`, `GET /v2/bills/{number}/radian/events`,
 * `DELETE /v2/bills/destroy/reference/{reference_code}`.
 *
 * DIAN as v2 shows it: a bill carries `is_validated`/`validated_at`; a bill that fails a
 * DIAN rule is kept with its errors and blocks every later send with 409 until deleted;
 * when DIAN is slow the bill comes back `is_validated: false` with no errors, and sending
 * the same payload again is safe (same bill, same number, validated once DIAN answers).
 */
import { createHash } from 'node:crypto';
import type { ApiGuard } from '../core/api-guard.js';
import { parseJsonBody } from '../core/body.js';
import type { EmulatorRequest, EmulatorResponse, Router } from '../core/router.js';
import { renderBillPdf } from './bill-pdf.js';
import type { FactusBill, FactusBillFilters, FactusBillStore } from './bill-store.js';
import { validateBillRequestV2 } from './bill-validation-v2.js';
import { billDetailViewV2, billSummaryViewV2, billXml } from './bill-views-v2.js';
import { conflict, notFound, ok, validationError } from './envelope.js';
import { paginate } from './pagination.js';

export interface V2BillRouteOptions {
  bills: FactusBillStore;
  /** Sends of a new bill DIAN leaves unanswered before validating it (0: DIAN answers at once). */
  dianPendingSends: number;
  pageSize: number;
  filters: (request: EmulatorRequest) => FactusBillFilters;
}

export function registerV2BillRoutes(router: Router, api: ApiGuard, options: V2BillRouteOptions): void {
  const { bills } = options;
  const withBill = (answer: (bill: FactusBill, request: EmulatorRequest) => ReturnType<typeof ok>) =>
    api((request) => {
      const bill = bills.findByNumber(request.params.number ?? '');
      return bill
        ? answer(bill, request)
        : notFound(`No se encontró la factura con número ${request.params.number}`);
    });

  router.add(
    'POST',
    '/v2/bills/validate',
    api((request) => {
      const body = parseJsonBody(request);
      const validation = validateBillRequestV2(body, bills.billRangeIds());
      if (!validation.ok && !('rejected' in validation)) {
        return validationError(validation.message, validation.errors);
      }
      const input = validation.ok ? validation.input : validation.rejected;
      const digest = createHash('sha256').update(JSON.stringify(body)).digest('hex');

      const same = bills.findByReference(input.referenceCode);
      if (same && same.payloadDigest === digest && Object.keys(same.dianErrors).length === 0) {
        // The same payload again: safe, whatever DIAN did with the first one.
        return answerSend(bills.resend(same));
      }
      const blocking = bills.blockingBill();
      if (blocking) return blocked(blocking);
      if (same) {
        return conflict(`Ya existe un documento con el código de referencia ${same.referenceCode}.`, {
          number: same.number,
          reference_code: same.referenceCode,
        });
      }
      const bill = bills.create(input, {
        payloadDigest: digest,
        unansweredSends: options.dianPendingSends,
        ...(validation.ok ? {} : { dianErrors: validation.errors }),
      });
      if (!validation.ok) {
        return validationError(validation.message, validation.errors, {
          bill: { number: bill.number, reference_code: bill.referenceCode, is_validated: false },
        });
      }
      return answerSend(bill);
    }),
  );

  router.add(
    'GET',
    '/v2/bills',
    api((request) =>
      ok(
        paginate(bills.list(options.filters(request)).map(billSummaryViewV2), request.url, options.pageSize),
      ),
    ),
  );

  router.add(
    'GET',
    '/v2/bills/:number',
    withBill((bill) => ok(billDetailViewV2(bill))),
  );

  router.add(
    'GET',
    '/v2/bills/:number/download-pdf',
    withBill((bill) =>
      ok({
        file_name: `factura-${bill.number}`,
        pdf_base_64_encoded: renderBillPdf([
          'Factura electronica de venta',
          bill.number,
          `Referencia: ${bill.referenceCode}`,
          `Total: ${bill.totals.total.toFixed(2)}`,
        ]).toString('base64'),
      }),
    ),
  );

  for (const [action, root] of [
    ['download-xml', 'Invoice'],
    ['download-attached-document-xml', 'AttachedDocument'],
  ] as const) {
    router.add(
      'GET',
      `/v2/bills/:number/${action}`,
      withBill((bill) =>
        ok({
          file_name: `${root === 'Invoice' ? 'fv' : 'ad'}-${bill.number}`,
          xml_base_64_encoded: Buffer.from(billXml(bill, root), 'utf8').toString('base64'),
        }),
      ),
    );
  }

  router.add(
    'GET',
    '/v2/bills/:number/email-content',
    withBill((bill) =>
      ok({
        subject: `${bill.number};Factus Emulator S.A.S.;${bill.number};01;Factus Emulator`,
        attached_document: Buffer.from(billXml(bill, 'AttachedDocument'), 'utf8').toString('base64'),
      }),
    ),
  );

  router.add(
    'POST',
    '/v2/bills/:number/send-email',
    withBill((bill, request) => {
      const body = parseJsonBody(request) as { email?: unknown } | undefined;
      const email = typeof body?.email === 'string' ? body.email : '';
      if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) {
        return validationError('El campo email debe ser una dirección de correo válida.', {
          email: ['El campo email debe ser una dirección de correo válida.'],
        });
      }
      return ok(undefined, 200, `Correo enviado a ${email} con la factura ${bill.number}`);
    }),
  );

  router.add(
    'GET',
    '/v2/bills/:number/radian/events',
    withBill(() => ok([])),
  );

  router.add(
    'DELETE',
    '/v2/bills/destroy/reference/:reference_code',
    api((request) => destroyByReference(bills, request.params.reference_code ?? '')),
  );
}

/**
 * Deletes a bill DIAN has not validated, through v1's route as through v2's: a validated
 * bill is a legal document, so both answer 409 and keep it.
 */
export function destroyByReference(bills: FactusBillStore, referenceCode: string): EmulatorResponse {
  const bill = bills.findByReference(referenceCode);
  if (!bill) return notFound(`No se encontró una factura con el código de referencia ${referenceCode}`);
  if (bill.validatedAtMs !== null) {
    return conflict(`La factura ${bill.number} ya fue validada por la DIAN y no se puede eliminar.`);
  }
  bills.deleteByReference(referenceCode);
  return ok(undefined, 200, `Documento con código de referencia ${referenceCode} eliminado con éxito`);
}

function answerSend(bill: FactusBill) {
  const message =
    bill.validatedAtMs !== null
      ? `Documento con el código de referencia ${bill.referenceCode} registrado y validado con éxito`
      : `Documento con el código de referencia ${bill.referenceCode} registrado; la DIAN aún no lo valida. ` +
        'Envíe de nuevo la misma solicitud para consultar el resultado.';
  return ok(billDetailViewV2(bill), 201, message);
}

function blocked(bill: FactusBill) {
  return conflict(
    `Se encontró una factura pendiente por enviar a la DIAN (código de referencia ${bill.referenceCode}); ` +
      'elimínela o reenvíela antes de enviar otra.',
    {
      number: bill.number,
      reference_code: bill.referenceCode,
      is_validated: false,
      errors: Object.keys(bill.dianErrors).length > 0 ? bill.dianErrors : [],
    },
  );
}
