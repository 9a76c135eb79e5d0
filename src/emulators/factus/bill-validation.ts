/**
 * `POST /v1/bills/validate` input checks, worded like Factus (Laravel validation in
 * Spanish, then DIAN rule rejections keyed by rule code such as FAK24). The DIAN rule
 * texts are the emulator's own; only their shape follows the real API.
 */
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

export interface FactusCustomerInput {
  identification: string;
  dv: string | null;
  company: string | null;
  tradeName: string | null;
  names: string | null;
  address: string | null;
  email: string;
  phone: string | null;
  legalOrganizationId: string | null;
  tributeId: string | null;
  identificationDocumentId: string | null;
  municipalityId: string | null;
}

export interface FactusItemInput {
  codeReference: string;
  name: string;
  quantity: number;
  discountRate: number;
  price: number;
  taxRate: number;
  unitMeasureId: number | null;
  standardCodeId: number | null;
  isExcluded: boolean;
  tributeId: number | null;
  /** v2 only: the item's taxes as sent (v1 has one `tax_rate`). */
  taxes?: FactusItemTax[];
  /** v2 only. */
  unitMeasureCode?: string;
  /** v2 only. */
  standardCode?: string;
}

export interface FactusItemTax {
  code: string;
  rate: number;
  isExcluded: boolean;
}

export interface FactusBillInput {
  referenceCode: string;
  numberingRangeId: number;
  observation: string | null;
  paymentForm: string;
  paymentMethodCode: string;
  paymentDueDate: string | null;
  customer: FactusCustomerInput;
  items: FactusItemInput[];
  /** v2 only: the payment lines as sent (v1 has one top-level payment form and method). */
  paymentDetails?: FactusPaymentDetail[];
}

export interface FactusPaymentDetail {
  paymentForm: string;
  paymentMethodCode: string;
  amount: number;
  dueDate: string | null;
}

/** Field → messages (Laravel), or rule code → "Regla: …, Rechazo: …" (DIAN). */
export type FactusValidationErrors = Record<string, string[] | string>;

export type BillValidation =
  | { ok: true; input: FactusBillInput }
  | { ok: false; message: string; errors: FactusValidationErrors };

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** `knownRangeIds`: numbering ranges a bill may use. */
export function validateBillRequest(body: unknown, knownRangeIds: readonly number[]): BillValidation {
  const { errors, add } = errorCollector();
  const input: Json = isObject(body) ? body : {};

  const referenceCode = requiredString(input, 'reference_code', add);
  const numberingRangeId = requiredNumber(input, 'numbering_range_id', add);
  if (numberingRangeId !== undefined && !knownRangeIds.includes(numberingRangeId)) {
    add('numbering_range_id', 'El campo numbering_range_id seleccionado no es válido.');
  }

  let customer: FactusCustomerInput | undefined;
  if (input.customer === undefined || input.customer === null)
    add('customer', 'El campo customer es obligatorio.');
  else if (!isObject(input.customer)) add('customer', 'El campo customer debe ser un objeto.');
  else customer = validateCustomer(input.customer, add);

  const items: FactusItemInput[] = [];
  if (input.items === undefined || input.items === null) add('items', 'El campo items es obligatorio.');
  else if (!Array.isArray(input.items)) add('items', 'El campo items debe ser un arreglo.');
  else if (input.items.length === 0) add('items', 'El campo items debe tener al menos 1 elementos.');
  else {
    for (const [index, item] of input.items.entries()) {
      const validated = validateItem(item, `items.${index}`, add);
      if (validated) items.push(validated);
    }
  }

  if (Object.keys(errors).length > 0) return { ok: false, message: firstErrorMessage(errors), errors };

  const bill: FactusBillInput = {
    referenceCode: referenceCode as string,
    numberingRangeId: numberingRangeId as number,
    observation: optionalString(input, 'observation'),
    paymentForm: optionalString(input, 'payment_form') ?? '1',
    paymentMethodCode: optionalString(input, 'payment_method_code') ?? '10',
    paymentDueDate: optionalString(input, 'payment_due_date'),
    customer: customer as FactusCustomerInput,
    items,
  };

  const rejected = dianRuleErrors(bill);
  if (rejected) return { ok: false, message: DIAN_REJECTION_MESSAGE, errors: rejected };
  return { ok: true, input: bill };
}

/** Laravel's summary: the first message, then how many more. */
export function firstErrorMessage(errors: Record<string, string[]>): string {
  const all = Object.values(errors).flat();
  const rest = all.length - 1;
  return rest > 0 ? `${all[0]} (y ${rest} ${rest === 1 ? 'error' : 'errores'} más)` : (all[0] as string);
}

export const DIAN_REJECTION_MESSAGE = 'La factura fue rechazada por las reglas de validación de la DIAN.';

/**
 * The DIAN rules the emulator applies to a bill that passed input validation, keyed by
 * rule code; undefined when it passes. One rule is modelled: FAK24 (the buyer's
 * identification), which a client trips with letters in `customer.identification`.
 */
export function dianRuleErrors(bill: FactusBillInput): Record<string, string> | undefined {
  if (/^\d{3,15}$/.test(bill.customer.identification)) return undefined;
  return {
    FAK24:
      'Regla: FAK24, Rechazo: El número de identificación del adquiriente no es válido (solo dígitos, de 3 a 15).',
  };
}

export function validateCustomer(customer: Json, add: AddError): FactusCustomerInput | undefined {
  const identification = requiredString(customer, 'identification', add, 'customer.');
  const names = optionalString(customer, 'names');
  const company = optionalString(customer, 'company');
  if (names === null && company === null) {
    add('customer.names', 'El campo customer.names es obligatorio cuando customer.company no está presente.');
  }
  const email = requiredString(customer, 'email', add, 'customer.');
  if (email !== undefined && !EMAIL.test(email)) {
    add('customer.email', 'El campo customer.email debe ser una dirección de correo válida.');
  }
  if (identification === undefined || email === undefined || (names === null && company === null))
    return undefined;
  return {
    identification,
    dv: optionalString(customer, 'dv'),
    company,
    tradeName: optionalString(customer, 'trade_name'),
    names,
    address: optionalString(customer, 'address'),
    email,
    phone: optionalString(customer, 'phone'),
    legalOrganizationId: optionalString(customer, 'legal_organization_id'),
    tributeId: optionalString(customer, 'tribute_id'),
    identificationDocumentId: optionalString(customer, 'identification_document_id'),
    municipalityId: optionalString(customer, 'municipality_id'),
  };
}

function validateItem(item: unknown, prefix: string, add: AddError): FactusItemInput | undefined {
  if (!isObject(item)) {
    add(prefix, `El campo ${prefix} debe ser un objeto.`);
    return undefined;
  }
  let failed = false;
  const track: AddError = (field, message) => {
    failed = true;
    add(field, message);
  };
  const path = `${prefix}.`;
  const codeReference = requiredString(item, 'code_reference', track, path);
  const name = requiredString(item, 'name', track, path);
  const quantity = requiredNumber(item, 'quantity', track, path);
  if (quantity !== undefined && quantity <= 0)
    track(`${path}quantity`, `El campo ${path}quantity debe ser mayor que 0.`);
  const price = requiredNumber(item, 'price', track, path);
  if (price !== undefined && price < 0) track(`${path}price`, `El campo ${path}price debe ser al menos 0.`);
  const taxRate = requiredNumber(item, 'tax_rate', track, path);
  if (taxRate !== undefined && (taxRate < 0 || taxRate > 100)) {
    track(`${path}tax_rate`, `El campo ${path}tax_rate debe estar entre 0 y 100.`);
  }
  const discountRate = optionalNumber(item, 'discount_rate', track, path) ?? 0;
  if (discountRate < 0 || discountRate > 100) {
    track(`${path}discount_rate`, `El campo ${path}discount_rate debe estar entre 0 y 100.`);
  }
  const unitMeasureId = optionalNumber(item, 'unit_measure_id', track, path);
  const standardCodeId = optionalNumber(item, 'standard_code_id', track, path);
  const tributeId = optionalNumber(item, 'tribute_id', track, path);
  const isExcluded = optionalNumber(item, 'is_excluded', track, path);
  if (isExcluded !== undefined && isExcluded !== 0 && isExcluded !== 1) {
    track(`${path}is_excluded`, `El campo ${path}is_excluded debe ser 0 o 1.`);
  }
  if (failed) return undefined;
  return {
    codeReference: codeReference as string,
    name: name as string,
    quantity: quantity as number,
    discountRate,
    price: price as number,
    taxRate: taxRate as number,
    unitMeasureId: unitMeasureId ?? null,
    standardCodeId: standardCodeId ?? null,
    isExcluded: isExcluded === 1,
    tributeId: tributeId ?? null,
  };
}
