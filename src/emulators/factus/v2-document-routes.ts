/**
 * Factus v2 credit notes and numbering ranges:
 * `POST /v2/credit-notes/validate`, `GET /v2/credit-notes`, `GET /v2/credit-notes/{number}`;
 * `GET|POST /v2/numbering-ranges`, `GET /v2/numbering-ranges/dian`, `GET /v2/numbering-ranges/{id}`,
 * `PATCH /v2/numbering-ranges/{id}/current` and `PATCH /v2/numbering-ranges/{id}/toggle-status`
 * (the method of the last two is inferred: they change one field of a range).
 */
import type { ApiGuard } from '../core/api-guard.js';
import { parseJsonBody } from '../core/body.js';
import type { Router } from '../core/router.js';
import type { FactusBillStore, FactusNumberingRange } from './bill-store.js';
import { firstErrorMessage } from './bill-validation.js';
import { list, validateItem } from './bill-validation-v2.js';
import { formatFactusDate, money, numberingRangeView } from './bill-views.js';
import type { FactusCreditNote, FactusCreditNoteStore } from './credit-note-store.js';
import { conflict, notFound, ok, validationError } from './envelope.js';
import { errorCollector, isObject, optionalString, requiredNumber, requiredString } from './field-checks.js';
import { paginate } from './pagination.js';

export function registerV2CreditNoteRoutes(
  router: Router,
  api: ApiGuard,
  bills: FactusBillStore,
  notes: FactusCreditNoteStore,
  pageSize: number,
): void {
  router.add(
    'POST',
    '/v2/credit-notes/validate',
    api((request) => {
      const body = parseJsonBody(request);
      const input = isObject(body) ? body : {};
      const { errors, add } = errorCollector();
      const referenceCode = requiredString(input, 'reference_code', add);
      const correctionConceptCode = requiredString(input, 'correction_concept_code', add);
      const billId = requiredNumber(input, 'bill_id', add);
      const bill = billId === undefined ? undefined : bills.findById(billId);
      if (billId !== undefined && (!bill || bill.validatedAtMs === null)) {
        add('bill_id', 'El campo bill_id seleccionado no es válido.');
      }
      const items = list(input, 'items', add, validateItem);
      if (Object.keys(errors).length > 0) return validationError(firstErrorMessage(errors), errors);
      const existing = notes.findByReference(referenceCode as string);
      if (existing) {
        return conflict(`Ya existe una nota crédito con el código de referencia ${existing.referenceCode}.`);
      }
      const note = notes.create({
        referenceCode: referenceCode as string,
        correctionConceptCode: correctionConceptCode as string,
        bill: bill as NonNullable<typeof bill>,
        items,
      });
      return ok(creditNoteView(note), 201, `Nota crédito ${note.number} registrada y validada con éxito`);
    }),
  );

  router.add(
    'GET',
    '/v2/credit-notes',
    api((request) => ok(paginate(notes.list().map(creditNoteView), request.url, pageSize))),
  );

  router.add(
    'GET',
    '/v2/credit-notes/:number',
    api((request) => {
      const note = notes.findByNumber(request.params.number ?? '');
      return note
        ? ok(creditNoteView(note))
        : notFound(`No se encontró la nota crédito con número ${request.params.number}`);
    }),
  );
}

function creditNoteView(note: FactusCreditNote) {
  return {
    id: note.id,
    number: note.number,
    reference_code: note.referenceCode,
    correction_concept: { code: note.correctionConceptCode },
    bill_id: note.bill.id,
    number_bill: note.bill.number,
    is_validated: true,
    validated_at: formatFactusDate(note.createdAtMs),
    errors: [],
    total: money(note.total),
    created_at: formatFactusDate(note.createdAtMs),
  };
}

export function registerV2NumberingRangeRoutes(
  router: Router,
  api: ApiGuard,
  bills: FactusBillStore,
  pageSize: number,
): void {
  const withRange = (answer: (range: FactusNumberingRange, body: unknown) => ReturnType<typeof ok>) =>
    api((request) => {
      const range = bills.rangeById(Number(request.params.id));
      return range
        ? answer(range, parseJsonBody(request))
        : notFound(`No se encontró el rango de numeración ${request.params.id}`);
    });

  router.add(
    'GET',
    '/v2/numbering-ranges',
    api((request) => ok(paginate(bills.ranges.map(numberingRangeView), request.url, pageSize))),
  );

  router.add(
    'POST',
    '/v2/numbering-ranges',
    api((request) => {
      const body = parseJsonBody(request);
      const input = isObject(body) ? body : {};
      const { errors, add } = errorCollector();
      const document = requiredString(input, 'document', add);
      const prefix = requiredString(input, 'prefix', add);
      const from = requiredNumber(input, 'from', add);
      const to = requiredNumber(input, 'to', add);
      const current = requiredNumber(input, 'current', add);
      if (from !== undefined && to !== undefined && from > to)
        add('to', 'El campo to debe ser mayor que from.');
      if (Object.keys(errors).length > 0) return validationError(firstErrorMessage(errors), errors);
      const range = bills.addRange({
        document: document as string,
        prefix: prefix as string,
        from: from as number,
        to: to as number,
        current: current as number,
        resolutionNumber: optionalString(input, 'resolution_number') ?? '',
      });
      return ok(numberingRangeView(range), 201, 'Rango de numeración creado con éxito');
    }),
  );

  // Registered before `/:id` so `dian` is not read as an id.
  router.add(
    'GET',
    '/v2/numbering-ranges/dian',
    api(() =>
      ok(
        bills.ranges
          .filter((range) => range.technicalKey !== null)
          .map((range) => ({
            resolution_number: range.resolutionNumber,
            prefix: range.prefix,
            from: range.from,
            to: range.to,
            start_date: range.startDate,
            end_date: range.endDate,
            technical_key: range.technicalKey,
          })),
      ),
    ),
  );

  router.add(
    'GET',
    '/v2/numbering-ranges/:id',
    withRange((range) => ok(numberingRangeView(range))),
  );

  router.add(
    'PATCH',
    '/v2/numbering-ranges/:id/current',
    withRange((range, body) => {
      const errors: Record<string, string[]> = {};
      const current = requiredNumber(isObject(body) ? body : {}, 'current', (field, message) => {
        errors[field] = [message];
      });
      if (current !== undefined && (current < range.from || current > range.to)) {
        errors.current = [`El campo current debe estar entre ${range.from} y ${range.to}.`];
      } else if (current !== undefined && range.highestIssued !== null && current < range.highestIssued) {
        // Lower would hand out a number a document already has.
        errors.current = [
          `El campo current no puede ser menor que ${range.highestIssued}, el último número ya emitido con este rango.`,
        ];
      }
      if (Object.keys(errors).length > 0) return validationError(firstErrorMessage(errors), errors);
      range.current = current as number;
      return ok(numberingRangeView(range));
    }),
  );

  router.add(
    'PATCH',
    '/v2/numbering-ranges/:id/toggle-status',
    withRange((range) => {
      // An inactive range numbers no bills (bills naming it fail validation).
      range.isActive = !range.isActive;
      return ok(
        numberingRangeView(range),
        200,
        `Rango de numeración ${range.isActive ? 'activado' : 'desactivado'}`,
      );
    }),
  );
}
