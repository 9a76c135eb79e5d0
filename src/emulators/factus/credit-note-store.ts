/**
 * Credit notes (v2 `/v2/credit-notes/...`): each corrects one validated bill, is numbered
 * from the credit-note range (NC1, NC2, …) and is validated at once (the slow-DIAN and
 * rejection cases are modelled on bills only).
 */
import { type FactusBill, type FactusNumberingRange, issueNumber } from './bill-store.js';
import type { FactusItemInput } from './bill-validation.js';

export interface FactusCreditNote {
  id: number;
  number: string;
  referenceCode: string;
  correctionConceptCode: string;
  bill: FactusBill;
  items: FactusItemInput[];
  total: number;
  createdAtMs: number;
}

export class FactusCreditNoteStore {
  readonly #notes: FactusCreditNote[] = [];
  readonly #range: FactusNumberingRange;
  readonly #now: () => number;
  #nextId = 1;

  constructor(range: FactusNumberingRange, now: () => number) {
    this.#range = range;
    this.#now = now;
  }

  create(input: Omit<FactusCreditNote, 'id' | 'number' | 'total' | 'createdAtMs'>): FactusCreditNote {
    const number = issueNumber(this.#range);
    const total = input.items.reduce(
      (sum, item) => sum + item.price * item.quantity * (1 - item.discountRate / 100),
      0,
    );
    const note: FactusCreditNote = {
      ...input,
      id: this.#nextId++,
      number,
      total: Math.round(total * 100) / 100,
      createdAtMs: this.#now(),
    };
    this.#notes.push(note);
    return note;
  }

  findByReference(referenceCode: string): FactusCreditNote | undefined {
    return this.#notes.find((note) => note.referenceCode === referenceCode);
  }

  findByNumber(number: string): FactusCreditNote | undefined {
    return this.#notes.find((note) => note.number === number);
  }

  /** Newest first. */
  list(): FactusCreditNote[] {
    return [...this.#notes].sort((a, b) => b.id - a.id);
  }
}
