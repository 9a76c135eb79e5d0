/**
 * JSON shapes of v2 bills (factus-js `types/bill.ts`): flat bill fields with
 * `is_validated` and `validated_at`, `payment_details`, items with a `taxes` list, and
 * `totals`. Money stays "0.00" strings and dates "dd-mm-yyyy hh:mm:ss AM", as in v1.
 */
import { customerName, type FactusBill } from './bill-store.js';
import { FACTUS_EMULATOR_COMPANY, formatFactusDate, money, PAYMENT_FORMS } from './bill-views.js';

/** DIAN's tribute codes the emulator names (01 IVA, 04 INC). */
const TRIBUTES: Record<string, string> = { '01': 'IVA', '04': 'INC' };

const PAYMENT_METHODS: Record<string, string> = {
  '10': 'Efectivo',
  '47': 'Transferencia',
  '48': 'Tarjeta crédito',
};

/** Fields both the list row and the detail carry. */
function validationFields(bill: FactusBill) {
  return {
    is_validated: bill.validatedAtMs !== null,
    validated_at: bill.validatedAtMs === null ? null : formatFactusDate(bill.validatedAtMs),
    // An object of rule → message when DIAN rejected the bill, else an empty list (as in v1).
    errors: Object.keys(bill.dianErrors).length > 0 ? { ...bill.dianErrors } : [],
  };
}

/** One row of `GET /v2/bills`. */
export function billSummaryViewV2(bill: FactusBill) {
  const { customer } = bill.input;
  return {
    id: bill.id,
    number: bill.number,
    reference_code: bill.referenceCode,
    identification: customer.identification,
    names: customerName(customer),
    total: money(bill.totals.total),
    ...validationFields(bill),
    send_email: false,
    has_claim: false,
    is_negotiable_instrument: false,
    created_at: formatFactusDate(bill.createdAtMs),
  };
}

/** The `data` of `POST /v2/bills/validate` and `GET /v2/bills/{number}`. */
export function billDetailViewV2(bill: FactusBill) {
  const { input } = bill;
  const payments = input.paymentDetails ?? [
    {
      paymentForm: input.paymentForm,
      paymentMethodCode: input.paymentMethodCode,
      amount: bill.totals.total,
      dueDate: input.paymentDueDate,
    },
  ];
  return {
    id: bill.id,
    number: bill.number,
    reference_code: bill.referenceCode,
    ...validationFields(bill),
    send_email: false,
    has_claim: false,
    is_negotiable_instrument: false,
    observation: input.observation,
    created_at: formatFactusDate(bill.createdAtMs),
    document_type: { code: '01', name: 'Factura electrónica de Venta' },
    payment_details: payments.map((payment) => ({
      payment_form: {
        code: payment.paymentForm,
        name: PAYMENT_FORMS[payment.paymentForm] ?? 'Pago de contado',
      },
      payment_method: {
        code: payment.paymentMethodCode,
        name: PAYMENT_METHODS[payment.paymentMethodCode] ?? 'Otro',
      },
      reference_code: null,
      amount: money(payment.amount),
      due_date: payment.dueDate,
    })),
    numbering_range: {
      prefix: bill.range.prefix,
      from: bill.range.from,
      to: bill.range.to,
      resolution_number: bill.range.resolutionNumber,
      start_date: bill.range.startDate,
      end_date: bill.range.endDate,
    },
    company: FACTUS_EMULATOR_COMPANY,
    customer: {
      identification: input.customer.identification,
      dv: input.customer.dv,
      graphic_representation_name: customerName(input.customer),
      company: input.customer.company,
      names: input.customer.names ?? '',
      email: input.customer.email,
      address: input.customer.address,
      phone: input.customer.phone,
    },
    items: bill.items.map((item) => ({
      code_reference: item.codeReference,
      name: item.name,
      quantity: String(item.quantity),
      unit_measure: { code: item.unitMeasureCode ?? String(item.unitMeasureId ?? '') },
      standard_code: { code: item.standardCode ?? String(item.standardCodeId ?? '') },
      discount_rate: money(item.discountRate),
      discount: money(item.discount),
      gross_value: money(item.gross),
      taxable_amount: money(item.taxable),
      tax_amount: money(item.tax),
      price: money(item.price),
      total: money(item.total),
      taxes: (item.taxes ?? []).map((tax) => ({
        tribute: { code: tax.code, name: TRIBUTES[tax.code] ?? tax.code },
        is_excluded: tax.isExcluded,
        rates: [{ rate: money(tax.rate) }],
      })),
    })),
    totals: {
      gross_amount: money(bill.totals.gross),
      discount_amount: money(bill.totals.discount),
      taxable_amount: money(bill.totals.taxable),
      tax_amount: money(bill.totals.tax),
      total: money(bill.totals.total),
    },
    cufe: bill.validatedAtMs === null ? null : bill.cufe,
    qr: bill.validatedAtMs === null ? null : bill.qr,
    links: { qr: bill.validatedAtMs === null ? null : bill.qr },
  };
}

/** A minimal UBL-looking document naming the bill, for the XML downloads. */
export function billXml(bill: FactusBill, root: 'Invoice' | 'AttachedDocument'): string {
  const escapeXml = (value: string) => value.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<${root} xmlns="urn:oasis:names:specification:ubl:schema:xsd:${root}-2">`,
    `  <ID>${escapeXml(bill.number)}</ID>`,
    `  <UUID schemeName="CUFE-SHA384">${bill.cufe}</UUID>`,
    `  <IssueDate>${new Date(bill.createdAtMs).toISOString().slice(0, 10)}</IssueDate>`,
    `  <PayableAmount currencyID="COP">${money(bill.totals.total)}</PayableAmount>`,
    `</${root}>`,
    '',
  ].join('\n');
}
