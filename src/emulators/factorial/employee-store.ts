/**
 * The emulated company's employees: 250 seeded deterministically (employee 1 is the
 * seeded admin user), kept in id order, plus the ones API calls create. Two views: the
 * dated/v2 resource shape and the legacy v1 shape.
 */

export interface Employee {
  id: number;
  accessId: number;
  firstName: string;
  lastName: string;
  email: string;
  birthdayOn: string | null;
  gender: string | null;
  managerId: number | null;
  role: 'admin' | 'basic';
  createdAtMs: number;
  updatedAtMs: number;
}

export interface EmployeeStoreOptions {
  companyId: number;
  legalEntityId: number;
  now: () => number;
}

export interface NewEmployee {
  firstName: string;
  lastName: string;
  email: string;
  birthdayOn?: string;
  gender?: string;
  managerId?: number;
}

export type EmployeeValidation =
  | { ok: true; input: NewEmployee }
  | { ok: false; errors: Record<string, string[]> };

export const SEEDED_EMPLOYEE_COUNT = 250;

const FIRST_NAMES = [
  'Ada',
  'Alan',
  'Grace',
  'Edsger',
  'Barbara',
  'Donald',
  'Margaret',
  'Ken',
  'Frances',
  'Dennis',
  'Radia',
  'John',
  'Hedy',
  'Tim',
  'Katherine',
  'Linus',
  'Sophie',
  'Guido',
  'Karen',
  'Niklaus',
  'Adele',
  'Bjarne',
  'Joan',
  'James',
  'Mary',
];
const LAST_NAMES = [
  'Lovelace',
  'Turing',
  'Hopper',
  'Dijkstra',
  'Liskov',
  'Knuth',
  'Hamilton',
  'Thompson',
  'Allen',
  'Ritchie',
  'Perlman',
  'McCarthy',
  'Lamarr',
  'Berners-Lee',
  'Johnson',
  'Torvalds',
  'Wilson',
  'van Rossum',
  'Sparck Jones',
  'Wirth',
  'Goldberg',
  'Stroustrup',
  'Clarke',
  'Gosling',
  'Keller',
];

/** 2024-01-15T09:00:00Z: seeded employees were created a minute apart from here. */
const SEED_EPOCH_MS = Date.UTC(2024, 0, 15, 9, 0, 0);

const EMAIL_PATTERN = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
const DATE_PATTERN = /^\d{4}-\d{2}-\d{2}$/;

export class EmployeeStore {
  readonly companyId: number;
  readonly legalEntityId: number;
  readonly #now: () => number;
  readonly #employees: Employee[] = [];
  #nextId = 1;

  constructor(options: EmployeeStoreOptions) {
    this.companyId = options.companyId;
    this.legalEntityId = options.legalEntityId;
    this.#now = options.now;
  }

  /** Seeds the company; `admin` becomes employee 1. */
  seed(admin: { firstName: string; lastName: string; email: string }): void {
    for (let index = 0; index < SEEDED_EMPLOYEE_COUNT; index += 1) {
      const id = this.#nextId++;
      const first = index === 0 ? admin.firstName : (FIRST_NAMES[index % FIRST_NAMES.length] as string);
      const last =
        index === 0
          ? admin.lastName
          : (LAST_NAMES[Math.floor(index / FIRST_NAMES.length) % LAST_NAMES.length] as string);
      const createdAtMs = SEED_EPOCH_MS + index * 60_000;
      this.#employees.push({
        id,
        accessId: id,
        firstName: first,
        lastName: last,
        email: index === 0 ? admin.email : `${slug(first)}.${slug(last)}.${id}@factorial-emulator.example`,
        birthdayOn: `${1960 + (index % 40)}-${pad(1 + (index % 12))}-${pad(1 + (index % 28))}`,
        gender: index % 3 === 0 ? 'female' : index % 3 === 1 ? 'male' : 'other',
        managerId: index === 0 ? null : 1 + Math.floor(index / 10),
        role: index === 0 ? 'admin' : 'basic',
        createdAtMs,
        updatedAtMs: createdAtMs,
      });
    }
  }

  /** In id order. */
  list(): readonly Employee[] {
    return this.#employees;
  }

  find(id: number): Employee | undefined {
    return this.#employees.find((employee) => employee.id === id);
  }

  /** Validates a create request (JSON object or form fields) the way a Rails model would. */
  validate(body: unknown): EmployeeValidation {
    const errors: Record<string, string[]> = {};
    const add = (field: string, message: string) => {
      errors[field] ??= [];
      errors[field].push(message);
    };
    const fields =
      body !== null && typeof body === 'object' && !Array.isArray(body)
        ? (body as Record<string, unknown>)
        : {};
    const text = (name: string): string | undefined => {
      const value = fields[name];
      if (value === undefined || value === null) return undefined;
      if (typeof value !== 'string') {
        add(name, 'must be a string');
        return undefined;
      }
      return value.trim() === '' ? undefined : value.trim();
    };

    const firstName = text('first_name');
    if (firstName === undefined && !errors.first_name) add('first_name', "can't be blank");
    const lastName = text('last_name');
    if (lastName === undefined && !errors.last_name) add('last_name', "can't be blank");
    const email = text('email');
    if (email === undefined) {
      if (!errors.email) add('email', "can't be blank");
    } else if (!EMAIL_PATTERN.test(email)) {
      add('email', 'is invalid');
    } else if (this.#employees.some((employee) => employee.email.toLowerCase() === email.toLowerCase())) {
      add('email', 'has already been taken');
    }
    const birthdayOn = text('birthday_on');
    if (birthdayOn !== undefined && !isCalendarDate(birthdayOn)) add('birthday_on', 'is not a valid date');
    const gender = text('gender');
    let managerId: number | undefined;
    const rawManager = fields.manager_id;
    if (rawManager !== undefined && rawManager !== null && rawManager !== '') {
      const id = typeof rawManager === 'number' ? rawManager : Number(rawManager);
      if (!Number.isSafeInteger(id) || !this.find(id)) add('manager_id', 'must exist');
      else managerId = id;
    }

    if (Object.keys(errors).length > 0 || !firstName || !lastName || !email) {
      return { ok: false, errors };
    }
    return {
      ok: true,
      input: {
        firstName,
        lastName,
        email,
        ...(birthdayOn ? { birthdayOn } : {}),
        ...(gender ? { gender } : {}),
        ...(managerId !== undefined ? { managerId } : {}),
      },
    };
  }

  create(input: NewEmployee): Employee {
    const id = this.#nextId++;
    const now = this.#now();
    const employee: Employee = {
      id,
      accessId: id,
      firstName: input.firstName,
      lastName: input.lastName,
      email: input.email,
      birthdayOn: input.birthdayOn ?? null,
      gender: input.gender ?? null,
      managerId: input.managerId ?? null,
      role: 'basic',
      createdAtMs: now,
      updatedAtMs: now,
    };
    this.#employees.push(employee);
    return employee;
  }

  /** `/api/{version}/resources/employees/employees` shape. */
  resourceView(employee: Employee): Record<string, unknown> {
    return {
      id: employee.id,
      access_id: employee.accessId,
      first_name: employee.firstName,
      last_name: employee.lastName,
      full_name: `${employee.firstName} ${employee.lastName}`,
      preferred_name: null,
      email: employee.email,
      login_email: employee.email,
      birthday_on: employee.birthdayOn,
      gender: employee.gender,
      company_id: this.companyId,
      legal_entity_id: this.legalEntityId,
      manager_id: employee.managerId,
      timeoff_manager_id: employee.managerId,
      active: true,
      terminated_on: null,
      created_at: new Date(employee.createdAtMs).toISOString(),
      updated_at: new Date(employee.updatedAtMs).toISOString(),
    };
  }

  /** Legacy `/api/v1/employees` shape. */
  legacyView(employee: Employee): Record<string, unknown> {
    return {
      id: employee.id,
      access_id: employee.accessId,
      first_name: employee.firstName,
      last_name: employee.lastName,
      full_name: `${employee.firstName} ${employee.lastName}`,
      email: employee.email,
      birthday_on: employee.birthdayOn,
      gender: employee.gender,
      role: employee.role,
      manager_id: employee.managerId,
      timeoff_manager_id: employee.managerId,
      company_id: this.companyId,
      terminated_on: null,
    };
  }
}

function isCalendarDate(value: string): boolean {
  if (!DATE_PATTERN.test(value)) return false;
  const date = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(value);
}

function slug(value: string): string {
  return value.toLowerCase().replace(/[^a-z0-9]+/g, '-');
}

function pad(value: number): string {
  return String(value).padStart(2, '0');
}
