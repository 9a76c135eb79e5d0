/**
 * The emulated Factus company's bills and numbering ranges, in memory. Bills get
 * sequential numbers from the range (SETP990000001, …), a CUFE (SHA-384 hex, like DIAN's)
 * and a DIAN QR URL; a handful are seeded so listings are never empty.
 */
import { createHash } from 'node:crypto';
import type { FactusBillInput, FactusCustomerInput, FactusItemInput } from './bill-validation.js';

export interface FactusNumberingRange {
  id: number;
  document: string;
  documentCode: string;
  prefix: string;
  from: number;
  to: number;
  current: number;
  /** The highest number issued from the range here: `current` never moves back below it. */
  highestIssued: number | null;
  resolutionNumber: string;
  startDate: string;
  endDate: string;
  technicalKey: string | null;
  isActive: boolean;
}

export interface FactusItemTotals {
  gross: number;
  discount: number;
  taxable: number;
  tax: number;
  total: number;
}

/** How a bill was received (v2 keeps bills DIAN did not validate; v1 never stores them). */
export interface NewBillOptions {
  createdAtMs?: number;
  /** DIAN rule failures: the bill is kept, not validated, and blocks later sends until deleted. */
  dianErrors?: Record<string, string>;
  /** Sends (this one included) that DIAN leaves unanswered before it validates the bill (slow DIAN). */
  unansweredSends?: number;
  /** Identifies the request body, so a re-send of the same payload can be told from another bill. */
  payloadDigest?: string;
}

export interface FactusBill {
  id: number;
  number: string;
  referenceCode: string;
  /** 1 = validated by DIAN, 0 = not (yet). */
  status: number;
  /** When DIAN validated the bill; null while it has not (rejected, or DIAN slow). */
  validatedAtMs: number | null;
  /** DIAN rule failures keyed by rule code; empty unless DIAN rejected the bill. */
  dianErrors: Record<string, string>;
  /** Further sends DIAN leaves unanswered before it validates this bill. */
  unansweredSends: number;
  payloadDigest: string | null;
  cufe: string;
  qr: string;
  createdAtMs: number;
  input: FactusBillInput;
  range: FactusNumberingRange;
  items: Array<FactusItemInput & FactusItemTotals>;
  totals: FactusItemTotals;
}

export interface FactusBillFilters {
  identification?: string;
  names?: string;
  number?: string;
  prefix?: string;
  reference_code?: string;
  status?: string;
}

/** The range bills are numbered from; its id is what `numbering_range_id` must name. */
export const FACTUS_BILL_RANGE_ID = 8;

function initialRanges(): FactusNumberingRange[] {
  return [
    {
      id: FACTUS_BILL_RANGE_ID,
      document: 'Factura de Venta',
      documentCode: '21',
      prefix: 'SETP',
      from: 990000000,
      to: 995000000,
      current: 990000000,
      highestIssued: null,
      resolutionNumber: '18760000001',
      startDate: '2019-01-19',
      endDate: '2030-01-19',
      technicalKey: 'fc8eac422eba16e22ffd8c6f94b3f40a6e38162c',
      isActive: true,
    },
    {
      id: 9,
      document: 'Nota Crédito',
      documentCode: '22',
      prefix: 'NC',
      from: 1,
      to: 100000,
      current: 1,
      highestIssued: null,
      resolutionNumber: '',
      startDate: '2019-01-19',
      endDate: '2030-01-19',
      technicalKey: null,
      isActive: true,
    },
  ];
}

const SEED_CUSTOMERS: Array<Pick<FactusCustomerInput, 'identification' | 'names' | 'email'>> = [
  { identification: '1020304050', names: 'Ana María Restrepo', email: 'ana.restrepo@example.com' },
  { identification: '900123456', names: 'Comercializadora Andina S.A.S.', email: 'compras@andina.example' },
  { identification: '79856412', names: 'Carlos Andrés Gómez', email: 'carlos.gomez@example.com' },
  { identification: '1098765432', names: 'Laura Valentina Ruiz', email: 'laura.ruiz@example.com' },
  {
    identification: '830045678',
    names: 'Ferretería El Tornillo Ltda.',
    email: 'facturas@eltornillo.example',
  },
];

/** The range's next document number, prefix included. */
export function issueNumber(range: FactusNumberingRange): string {
  range.current += 1;
  range.highestIssued = Math.max(range.highestIssued ?? range.current, range.current);
  return `${range.prefix}${range.current}`;
}

export class FactusBillStore {
  readonly ranges: FactusNumberingRange[] = initialRanges();
  readonly #bills: FactusBill[] = [];
  readonly #now: () => number;
  #nextId = 1;

  constructor(now: () => number) {
    this.#now = now;
  }

  /** Creates the seed bills, oldest first, one day apart. */
  seed(): void {
    const now = this.#now();
    for (const [index, customer] of SEED_CUSTOMERS.entries()) {
      const daysAgo = SEED_CUSTOMERS.length - index;
      this.create(
        {
          referenceCode: `SEED-${String(index + 1).padStart(4, '0')}`,
          numberingRangeId: FACTUS_BILL_RANGE_ID,
          observation: null,
          paymentForm: '1',
          paymentMethodCode: '10',
          paymentDueDate: null,
          customer: {
            ...customer,
            dv: null,
            company: null,
            tradeName: null,
            address: 'Calle 10 # 20-30',
            phone: '3001234567',
            legalOrganizationId: '2',
            tributeId: '21',
            identificationDocumentId: '3',
            municipalityId: '980',
          },
          items: [
            {
              codeReference: `P-${100 + index}`,
              name: 'Servicio de consultoría',
              quantity: index + 1,
              discountRate: 0,
              price: 119000,
              taxRate: 19,
              unitMeasureId: 70,
              standardCodeId: 1,
              isExcluded: false,
              tributeId: 1,
            },
          ],
        },
        { createdAtMs: now - daysAgo * 86_400_000 },
      );
    }
  }

  rangeById(id: number): FactusNumberingRange | undefined {
    return this.ranges.find((range) => range.id === id);
  }

  /** Ids a bill may be numbered from. */
  billRangeIds(): number[] {
    return this.ranges
      .filter((range) => range.documentCode === '21' && range.isActive)
      .map((range) => range.id);
  }

  findById(id: number): FactusBill | undefined {
    return this.#bills.find((bill) => bill.id === id);
  }

  /** A range created through the API: active, without a DIAN technical key, valid for ten years. */
  addRange(
    fields: Pick<
      FactusNumberingRange,
      'document' | 'prefix' | 'from' | 'to' | 'current' | 'resolutionNumber'
    >,
  ) {
    const start = new Date(this.#now()).toISOString().slice(0, 10);
    const range: FactusNumberingRange = {
      ...fields,
      id: Math.max(0, ...this.ranges.map((known) => known.id)) + 1,
      documentCode: fields.document === 'Nota Crédito' ? '22' : '21',
      startDate: start,
      endDate: `${Number(start.slice(0, 4)) + 10}${start.slice(4)}`,
      highestIssued: null,
      technicalKey: null,
      isActive: true,
    };
    this.ranges.push(range);
    return range;
  }

  findByNumber(number: string): FactusBill | undefined {
    return this.#bills.find((bill) => bill.number === number);
  }

  findByReference(referenceCode: string): FactusBill | undefined {
    return this.#bills.find((bill) => bill.referenceCode === referenceCode);
  }

  create(input: FactusBillInput, options: NewBillOptions = {}): FactusBill {
    const createdAtMs = options.createdAtMs ?? this.#now();
    const dianErrors = options.dianErrors ?? {};
    const unansweredSends = Math.max(0, (options.unansweredSends ?? 0) - 1);
    const answered = Object.keys(dianErrors).length === 0 && (options.unansweredSends ?? 0) === 0;
    const range = this.rangeById(input.numberingRangeId);
    if (!range) throw new Error(`numbering range ${input.numberingRangeId} does not exist`);
    const number = issueNumber(range);
    const items = input.items.map((item) => ({ ...item, ...itemTotals(item) }));
    const totals = sumTotals(items);
    const cufe = createHash('sha384')
      .update(
        `${number}|${input.referenceCode}|${createdAtMs}|${totals.total.toFixed(2)}|${input.customer.identification}`,
      )
      .digest('hex');
    const bill: FactusBill = {
      id: this.#nextId++,
      number,
      referenceCode: input.referenceCode,
      status: answered ? 1 : 0,
      validatedAtMs: answered ? createdAtMs : null,
      dianErrors,
      unansweredSends,
      payloadDigest: options.payloadDigest ?? null,
      cufe,
      qr: `https://catalogo-vpfe-hab.dian.gov.co/document/searchqr?documentkey=${cufe}`,
      createdAtMs,
      input,
      range,
      items,
      totals,
    };
    this.#bills.push(bill);
    return bill;
  }

  /** The first bill DIAN has not validated (rejected, or still waiting): it blocks other sends. */
  blockingBill(): FactusBill | undefined {
    return this.#bills.find((bill) => bill.validatedAtMs === null);
  }

  /**
   * The same payload sent again for a bill DIAN has not answered: DIAN answers this time
   * unless the bill still has unanswered sends left. A rejected bill stays rejected.
   */
  resend(bill: FactusBill): FactusBill {
    if (bill.validatedAtMs !== null || Object.keys(bill.dianErrors).length > 0) return bill;
    if (bill.unansweredSends > 0) {
      bill.unansweredSends -= 1;
      return bill;
    }
    bill.validatedAtMs = this.#now();
    bill.status = 1;
    return bill;
  }

  deleteByReference(referenceCode: string): FactusBill | undefined {
    const index = this.#bills.findIndex((bill) => bill.referenceCode === referenceCode);
    if (index < 0) return undefined;
    return this.#bills.splice(index, 1)[0];
  }

  /** Newest first; text filters match a part, case-insensitively; `status` matches exactly. */
  list(filters: FactusBillFilters): FactusBill[] {
    const contains = (value: string | null, wanted: string | undefined) =>
      wanted === undefined || wanted === '' || (value ?? '').toLowerCase().includes(wanted.toLowerCase());
    return this.#bills
      .filter(
        (bill) =>
          contains(bill.input.customer.identification, filters.identification) &&
          contains(customerName(bill.input.customer), filters.names) &&
          contains(bill.number, filters.number) &&
          contains(bill.range.prefix, filters.prefix) &&
          contains(bill.referenceCode, filters.reference_code) &&
          (filters.status === undefined || filters.status === '' || String(bill.status) === filters.status),
      )
      .sort((a, b) => b.id - a.id);
  }
}

export function customerName(customer: FactusCustomerInput): string {
  return customer.company ?? customer.names ?? '';
}

/** Prices include tax (as in Factus); the discount comes off the gross value. */
function itemTotals(item: FactusItemInput): FactusItemTotals {
  const gross = round2(item.price * item.quantity);
  const discount = round2((gross * item.discountRate) / 100);
  const total = round2(gross - discount);
  const tax = item.isExcluded ? 0 : round2(total - total / (1 + item.taxRate / 100));
  return { gross, discount, taxable: round2(total - tax), tax, total };
}

function sumTotals(items: FactusItemTotals[]): FactusItemTotals {
  const sum = (key: keyof FactusItemTotals) => round2(items.reduce((acc, item) => acc + item[key], 0));
  return {
    gross: sum('gross'),
    discount: sum('discount'),
    taxable: sum('taxable'),
    tax: sum('tax'),
    total: sum('total'),
  };
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
