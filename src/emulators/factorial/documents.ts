/**
 * A few documents of the emulated company, served read-only by
 * `GET /api/{version}/resources/documents/documents`. They exist so a token scoped to
 * `employees` has a resource it is refused (the `documents` scope).
 */

export interface FactorialDocument {
  id: number;
  name: string;
  employee_id: number | null;
  folder_id: number;
  extension: string;
  company_id: number;
}

export const FACTORIAL_EMULATOR_DOCUMENTS: readonly FactorialDocument[] = Object.freeze([
  { id: 1, name: 'Employment contract', employee_id: 1, folder_id: 1, extension: 'pdf', company_id: 1 },
  { id: 2, name: 'Company handbook', employee_id: null, folder_id: 2, extension: 'pdf', company_id: 1 },
  { id: 3, name: 'Payslip 2026-01', employee_id: 1, folder_id: 3, extension: 'pdf', company_id: 1 },
]);
