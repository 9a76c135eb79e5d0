/**
 * JSON shapes of Factus bills and numbering ranges (snake_case, money as "0.00" strings,
 * dates as "dd-mm-yyyy hh:mm:ss AM" in Bogotá time).
 */
import { customerName, type FactusBill, type FactusNumberingRange } from './bill-store.js';

const BOGOTA_OFFSET_MS = -5 * 60 * 60 * 1000;

export const FACTUS_EMULATOR_COMPANY = {
  url_logo: null,
  nit: '901082140',
  dv: '0',
  company: 'Factus Emulator S.A.S.',
  name: 'Factus Emulator',
  graphic_representation_name: 'Factus Emulator S.A.S.',
  registration_code: '0000000',
  economic_activity: '6201',
  phone: '6015550000',
  email: 'facturacion@factus-emulator.example',
  direction: 'Carrera 7 # 71-21',
  municipality: 'Bogotá, D.C.',
};

const BILL_DOCUMENT = { code: '01', name: 'Factura electrónica de Venta' };

export const PAYMENT_FORMS: Record<string, string> = { '1': 'Pago de contado', '2': 'Pago a crédito' };

export function formatFactusDate(ms: number): string {
  const date = new Date(ms + BOGOTA_OFFSET_MS);
  const pad = (value: number) => String(value).padStart(2, '0');
  const hours = date.getUTCHours();
  const hours12 = hours % 12 === 0 ? 12 : hours % 12;
  return (
    `${pad(date.getUTCDate())}-${pad(date.getUTCMonth() + 1)}-${date.getUTCFullYear()} ` +
    `${pad(hours12)}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} ${hours < 12 ? 'AM' : 'PM'}`
  );
}

export function money(value: number): string {
  return value.toFixed(2);
}

function paymentForm(code: string) {
  return { code, name: PAYMENT_FORMS[code] ?? 'Pago de contado' };
}

/** One row of `GET /v1/bills`. */
export function billSummaryView(bill: FactusBill) {
  const { customer } = bill.input;
  return {
    id: bill.id,
    document: BILL_DOCUMENT,
    number: bill.number,
    api_client_name: 'Factus Emulator',
    reference_code: bill.referenceCode,
    identification: customer.identification,
    graphic_representation_name: customerName(customer),
    company: customer.company ?? '',
    trade_name: customer.tradeName,
    names: customer.names ?? '',
    email: customer.email,
    total: money(bill.totals.total),
    status: bill.status,
    errors: [],
    send_email: 0,
    has_claim: 0,
    is_negotiable_instrument: 0,
    payment_form: paymentForm(bill.input.paymentForm),
    created_at: formatFactusDate(bill.createdAtMs),
    credit_notes: [],
    debit_notes: [],
  };
}

/** The `data` of `POST /v1/bills/validate` and `GET /v1/bills/show/{number}`. */
export function billDetailView(bill: FactusBill) {
  const { customer } = bill.input;
  return {
    company: FACTUS_EMULATOR_COMPANY,
    customer: {
      identification: customer.identification,
      dv: customer.dv,
      graphic_representation_name: customerName(customer),
      trade_name: customer.tradeName,
      company: customer.company ?? '',
      names: customer.names ?? '',
      address: customer.address,
      email: customer.email,
      phone: customer.phone,
      legal_organization_id: customer.legalOrganizationId,
      tribute_id: customer.tributeId,
      identification_document_id: customer.identificationDocumentId,
      municipality_id: customer.municipalityId,
    },
    bill: {
      id: bill.id,
      document: BILL_DOCUMENT,
      number: bill.number,
      reference_code: bill.referenceCode,
      status: bill.status,
      send_email: 0,
      qr: bill.qr,
      cufe: bill.cufe,
      validated: formatFactusDate(bill.createdAtMs),
      discount_rate: '0.00',
      discount: money(bill.totals.discount),
      gross_value: money(bill.totals.gross),
      taxable_amount: money(bill.totals.taxable),
      tax_amount: money(bill.totals.tax),
      total: money(bill.totals.total),
      observation: bill.input.observation,
      errors: [],
      created_at: formatFactusDate(bill.createdAtMs),
      payment_due_date: bill.input.paymentDueDate,
      has_claim: 0,
      is_negotiable_instrument: 0,
      payment_form: paymentForm(bill.input.paymentForm),
      payment_method: { code: bill.input.paymentMethodCode },
    },
    items: bill.items.map((item) => ({
      code_reference: item.codeReference,
      name: item.name,
      quantity: item.quantity,
      discount_rate: money(item.discountRate),
      discount: money(item.discount),
      gross_value: money(item.gross),
      tax_rate: money(item.taxRate),
      taxable_amount: money(item.taxable),
      tax_amount: money(item.tax),
      price: money(item.price),
      is_excluded: item.isExcluded ? 1 : 0,
      unit_measure_id: item.unitMeasureId,
      standard_code_id: item.standardCodeId,
      tribute_id: item.tributeId,
      total: money(item.total),
      withholding_taxes: [],
    })),
    withholding_taxes: [],
    credit_notes: [],
    debit_notes: [],
    numbering_range: {
      prefix: bill.range.prefix,
      from: bill.range.from,
      to: bill.range.to,
      resolution_number: bill.range.resolutionNumber,
      start_date: bill.range.startDate,
      end_date: bill.range.endDate,
    },
  };
}

/** One row of `GET /v1/numbering-ranges`. */
export function numberingRangeView(range: FactusNumberingRange) {
  return {
    id: range.id,
    document: range.document,
    document_code: range.documentCode,
    prefix: range.prefix,
    from: range.from,
    to: range.to,
    current: range.current,
    resolution_number: range.resolutionNumber,
    start_date: range.startDate,
    end_date: range.endDate,
    technical_key: range.technicalKey,
    is_expired: false,
    is_active: range.isActive ? 1 : 0,
  };
}
