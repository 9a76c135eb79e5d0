/**
 * The Factus API routes, all behind the Bearer + rate-limit guard and answered in the
 * Factus envelope `{status, message, data}`: v1 (bills and numbering ranges) here, v2
 * (its own paths) in v2-bill-routes.ts and v2-document-routes.ts.
 */
import type { ApiGuard } from '../core/api-guard.js';
import { parseJsonBody } from '../core/body.js';
import { type EmulatorRequest, jsonResponse, type Router } from '../core/router.js';
import { renderBillPdf } from './bill-pdf.js';
import type { FactusBillFilters, FactusBillStore } from './bill-store.js';
import { validateBillRequest } from './bill-validation.js';
import { billDetailView, billSummaryView, numberingRangeView } from './bill-views.js';
import { FactusCreditNoteStore } from './credit-note-store.js';
import { conflict, notFound } from './envelope.js';
import { paginate } from './pagination.js';
import { destroyByReference, registerV2BillRoutes } from './v2-bill-routes.js';
import { registerV2CreditNoteRoutes, registerV2NumberingRangeRoutes } from './v2-document-routes.js';

export const FACTUS_API_VERSIONS = ['v1', 'v2'] as const;
export const FACTUS_PAGE_SIZE = 10;

export interface FactusApiOptions {
  /** Sends of a new v2 bill that DIAN leaves unanswered (see v2-bill-routes.ts). */
  dianPendingSends: number;
  now: () => number;
}

const OK = { status: 'OK', message: 'Solicitud exitosa' };

const FILTER_NAMES: ReadonlyArray<keyof FactusBillFilters> = [
  'identification',
  'names',
  'number',
  'prefix',
  'reference_code',
  'status',
];

function billFilters(request: EmulatorRequest): FactusBillFilters {
  const filters: FactusBillFilters = {};
  for (const name of FILTER_NAMES) {
    const value = request.url.searchParams.get(`filter[${name}]`);
    if (value !== null) filters[name] = value;
  }
  return filters;
}

export function registerFactusApi(
  router: Router,
  api: ApiGuard,
  store: FactusBillStore,
  options: FactusApiOptions,
): void {
  registerV1Routes(router, api, store);
  registerV2BillRoutes(router, api, {
    bills: store,
    dianPendingSends: options.dianPendingSends,
    pageSize: FACTUS_PAGE_SIZE,
    filters: billFilters,
  });
  const creditNoteRange = store.ranges.find((range) => range.documentCode === '22');
  if (!creditNoteRange) throw new Error('the credit-note numbering range is missing');
  const notes = new FactusCreditNoteStore(creditNoteRange, options.now);
  registerV2CreditNoteRoutes(router, api, store, notes, FACTUS_PAGE_SIZE);
  registerV2NumberingRangeRoutes(router, api, store, FACTUS_PAGE_SIZE);
}

function registerV1Routes(router: Router, api: ApiGuard, store: FactusBillStore): void {
  const base = '/v1';

  router.add(
    'POST',
    `${base}/bills/validate`,
    api((request) => {
      const validation = validateBillRequest(parseJsonBody(request), store.billRangeIds());
      if (!validation.ok) {
        return jsonResponse(422, {
          status: 'Validation error',
          message: 'Error de validación',
          data: { message: validation.message, errors: validation.errors },
        });
      }
      // A v2 bill DIAN has not validated blocks every send, v1 ones included.
      const pending = store.blockingBill();
      if (pending) {
        return conflict(
          `Se encontró una factura pendiente por enviar a la DIAN con el código de referencia ` +
            `${pending.referenceCode}; elimínela o use otro código de referencia.`,
          { number: pending.number, reference_code: pending.referenceCode },
        );
      }
      const same = store.findByReference(validation.input.referenceCode);
      if (same) {
        return conflict(`Ya existe un documento con el código de referencia ${same.referenceCode}.`, {
          number: same.number,
          reference_code: same.referenceCode,
        });
      }
      const bill = store.create(validation.input);
      return jsonResponse(201, {
        status: 'Created',
        message: `Documento con el código de referencia ${bill.referenceCode} registrado y validado con éxito`,
        data: billDetailView(bill),
      });
    }),
  );

  router.add(
    'GET',
    `${base}/bills`,
    api((request) =>
      jsonResponse(200, {
        ...OK,
        data: paginate(store.list(billFilters(request)).map(billSummaryView), request.url, FACTUS_PAGE_SIZE),
      }),
    ),
  );

  router.add(
    'GET',
    `${base}/bills/show/:number`,
    api((request) => {
      const bill = store.findByNumber(request.params.number ?? '');
      if (!bill) return notFound(`No se encontró la factura con número ${request.params.number}`);
      return jsonResponse(200, { ...OK, data: billDetailView(bill) });
    }),
  );

  router.add(
    'GET',
    `${base}/bills/download-pdf/:number`,
    api((request) => {
      const bill = store.findByNumber(request.params.number ?? '');
      if (!bill) return notFound(`No se encontró la factura con número ${request.params.number}`);
      const pdf = renderBillPdf([
        'Factura electronica de venta',
        bill.number,
        `Referencia: ${bill.referenceCode}`,
        `Total: ${bill.totals.total.toFixed(2)}`,
        `CUFE: ${bill.cufe.slice(0, 48)}`,
      ]);
      return jsonResponse(200, {
        ...OK,
        data: { file_name: `factura-${bill.number}`, pdf_base_64_encoded: pdf.toString('base64') },
      });
    }),
  );

  router.add(
    'DELETE',
    `${base}/bills/destroy/reference/:reference_code`,
    api((request) => destroyByReference(store, request.params.reference_code ?? '')),
  );

  router.add(
    'GET',
    `${base}/numbering-ranges`,
    api((request) =>
      jsonResponse(200, {
        ...OK,
        data: paginate(store.ranges.map(numberingRangeView), request.url, FACTUS_PAGE_SIZE),
      }),
    ),
  );
}
