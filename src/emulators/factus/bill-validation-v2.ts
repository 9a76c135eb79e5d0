/**
 * `POST /v2/bills/validate` input checks. The v2 body differs from v1 (factus-js
 * `types/bill.ts`, `types/shared.ts`): payments are a `payment_details` list instead of a
 * top-level `payment_form`/`payment_method_code`; items carry `unit_measure_code`,
 * `standard_code` and a `taxes` list of `{code, rate}` instead of `tax_rate`,
 * `tribute_id` and `is_excluded`; `numbering_range_id` may be left out (the active bill
 * range is used). A v1 body sent to v2 fails here with 422, as it would for real.
 */
import {
  type BillValidation,
  DIAN_REJECTION_MESSAGE,
  dianRuleErrors,
  type FactusBillInput,
  type FactusCustomerInput,
  type FactusItemInput,
  type FactusItemTax,
  type FactusPaymentDetail,
  firstErrorMessage,
  validateCustomer,
} from './bill-validation.js';
import {
  type AddError,
  errorCollector,
  isObject,
  type Json,
  optionalNumber,
  optionalString,
  requiredNumber,
  requiredString,
} from './field-checks.js';

/** The outcome of v2 validation; a DIAN rule failure still carries the input, because v2 keeps the bill. */
export type BillValidationV2 =
  | BillValidation
  | { ok: false; message: string; errors: Record<string, string>; rejected: FactusBillInput };

/** `knownRangeIds`: ranges a bill may use; the first is the default when the body names none. */
export function validateBillRequestV2(body: unknown, knownRangeIds: readonly number[]): BillValidationV2 {
  const { errors, add } = errorCollector();
  const input: Json = isObject(body) ? body : {};

  const referenceCode = requiredString(input, 'reference_code', add);
  const numberingRangeId = optionalNumber(input, 'numbering_range_id', add) ?? knownRangeIds[0];
  if (numberingRangeId === undefined || !knownRangeIds.includes(numberingRangeId)) {
    add('numbering_range_id', 'El campo numbering_range_id seleccionado no es válido.');
  }
  const paymentDetails = list(input, 'payment_details', add, validatePaymentDetail);

  let customer: FactusCustomerInput | undefined;
  if (!isObject(input.customer)) add('customer', 'El campo customer es obligatorio.');
  else customer = validateCustomer(input.customer, add);

  const items = list(input, 'items', add, validateItem);
  if (Object.keys(errors).length > 0) return { ok: false, message: firstErrorMessage(errors), errors };

  const first = paymentDetails[0] as FactusPaymentDetail;
  const bill: FactusBillInput = {
    referenceCode: referenceCode as string,
    numberingRangeId: numberingRangeId as number,
    observation: optionalString(input, 'observation'),
    paymentForm: first.paymentForm,
    paymentMethodCode: first.paymentMethodCode,
    paymentDueDate: first.dueDate,
    paymentDetails,
    customer: customer as FactusCustomerInput,
    items,
  };
  const rejected = dianRuleErrors(bill);
  if (rejected) return { ok: false, message: DIAN_REJECTION_MESSAGE, errors: rejected, rejected: bill };
  return { ok: true, input: bill };
}

/** A required, non-empty list whose entries each pass `check` (which reports its own errors). */
export function list<T>(
  source: Json,
  key: string,
  add: AddError,
  check: (entry: unknown, path: string, add: AddError) => T | undefined,
  prefix = '',
): T[] {
  const value = source[key];
  const field = `${prefix}${key}`;
  if (value === undefined || value === null) add(field, `El campo ${field} es obligatorio.`);
  else if (!Array.isArray(value)) add(field, `El campo ${field} debe ser un arreglo.`);
  else if (value.length === 0) add(field, `El campo ${field} debe tener al menos 1 elementos.`);
  else {
    return value.flatMap((entry, index) => {
      const checked = check(entry, `${field}.${index}`, add);
      return checked === undefined ? [] : [checked];
    });
  }
  return [];
}

/** Runs `checks` on an object entry; undefined when any of them added an error. */
function entryOf<T>(
  entry: unknown,
  path: string,
  add: AddError,
  checks: (entry: Json, track: AddError) => T,
) {
  if (!isObject(entry)) {
    add(path, `El campo ${path} debe ser un objeto.`);
    return undefined;
  }
  let failed = false;
  const result = checks(entry, (field, message) => {
    failed = true;
    add(field, message);
  });
  return failed ? undefined : result;
}

function validatePaymentDetail(entry: unknown, path: string, add: AddError): FactusPaymentDetail | undefined {
  return entryOf(entry, path, add, (detail, track) => ({
    paymentForm: requiredString(detail, 'payment_form', track, `${path}.`) as string,
    paymentMethodCode: requiredString(detail, 'payment_method_code', track, `${path}.`) as string,
    amount: requiredNumber(detail, 'amount', track, `${path}.`) as number,
    dueDate: optionalString(detail, 'due_date'),
  }));
}

function validateTax(entry: unknown, path: string, add: AddError): FactusItemTax | undefined {
  return entryOf(entry, path, add, (tax, track) => {
    const rate = requiredNumber(tax, 'rate', track, `${path}.`);
    if (rate !== undefined && (rate < 0 || rate > 100))
      track(`${path}.rate`, `El campo ${path}.rate debe estar entre 0 y 100.`);
    return {
      code: requiredString(tax, 'code', track, `${path}.`) as string,
      rate: rate as number,
      isExcluded: tax.is_excluded === true || tax.is_excluded === 1,
    };
  });
}

export function validateItem(entry: unknown, path: string, add: AddError): FactusItemInput | undefined {
  return entryOf(entry, path, add, (item, track) => {
    const at = `${path}.`;
    const quantity = requiredNumber(item, 'quantity', track, at);
    if (quantity !== undefined && quantity <= 0)
      track(`${at}quantity`, `El campo ${at}quantity debe ser mayor que 0.`);
    const price = requiredNumber(item, 'price', track, at);
    if (price !== undefined && price < 0) track(`${at}price`, `El campo ${at}price debe ser al menos 0.`);
    const discountRate = optionalNumber(item, 'discount_rate', track, at) ?? 0;
    const taxes = list(item, 'taxes', track, validateTax, at);
    const taxed = taxes.filter((tax) => !tax.isExcluded);
    return {
      codeReference: requiredString(item, 'code_reference', track, at) as string,
      name: requiredString(item, 'name', track, at) as string,
      quantity: quantity as number,
      discountRate,
      price: price as number,
      // The emulator's totals treat every non-excluded tax as part of the price.
      taxRate: taxed.reduce((sum, tax) => sum + tax.rate, 0),
      unitMeasureId: null,
      standardCodeId: null,
      isExcluded: taxes.length > 0 && taxed.length === 0,
      tributeId: null,
      taxes,
      unitMeasureCode: requiredString(item, 'unit_measure_code', track, at) as string,
      standardCode: requiredString(item, 'standard_code', track, at) as string,
    };
  });
}
