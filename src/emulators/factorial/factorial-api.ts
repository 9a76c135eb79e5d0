/**
 * The Factorial API routes, behind the Bearer / `x-api-key` guard:
 * - who owns the credential: `GET /api/v1/me` and `GET /api/{version}/resources/api_public/credentials`;
 * - employees, current shape with cursor pagination: `GET|POST /api/{version}/resources/employees/employees`
 *   and `GET …/employees/{id}`, where `{version}` is `v2` or a date (`2026-07-01`);
 * - employees, legacy v1 shape (plain arrays and objects): `GET|POST /api/v1/employees`, `GET /api/v1/employees/{id}`.
 */
import type { ApiAuth, ApiGuard, ApiHandler } from '../core/api-guard.js';
import { mediaType, parseFormBody, parseJsonBody } from '../core/body.js';
import {
  type EmulatorRequest,
  type EmulatorResponse,
  jsonResponse,
  type RouteHandler,
  type Router,
} from '../core/router.js';
import { paginateByCursor } from './cursor-pagination.js';
import type { Employee, EmployeeStore } from './employee-store.js';

/** `v2` or a dated version such as `2026-07-01`. */
export const FACTORIAL_RESOURCE_VERSION = /^(?:v2|\d{4}-\d{2}-\d{2})$/;

/** Token subjects: `user:<access id>`, `company:<company id>`, `api_key:<key id>`. */
export const USER_SUBJECT_PREFIX = 'user:';
export const COMPANY_SUBJECT_PREFIX = 'company:';
export const API_KEY_SUBJECT_PREFIX = 'api_key:';

export interface FactorialIdentity {
  user: {
    accessId: number;
    employeeId: number;
    email: string;
    firstName: string;
    lastName: string;
    role: string;
  };
  company: { id: number; name: string };
  apiKey: { id: number; name: string };
}

export interface FactorialApiOptions {
  employees: EmployeeStore;
  identity: FactorialIdentity;
  notFound: (request: EmulatorRequest) => EmulatorResponse;
}

export function registerFactorialApi(router: Router, api: ApiGuard, options: FactorialApiOptions): void {
  const { employees, identity } = options;
  const versioned =
    (handler: ApiHandler): RouteHandler =>
    (request) =>
      FACTORIAL_RESOURCE_VERSION.test(request.params.version ?? '')
        ? api(handler)(request)
        : options.notFound(request);
  const resources = '/api/:version/resources';

  router.add(
    'GET',
    '/api/v1/me',
    api(() => {
      const { user } = identity;
      return jsonResponse(200, {
        email: user.email,
        full_name: `${user.firstName} ${user.lastName}`,
        first_name: user.firstName,
        last_name: user.lastName,
        employee_id: user.employeeId,
        role: user.role,
      });
    }),
  );

  router.add(
    'GET',
    `${resources}/api_public/credentials`,
    versioned((request, auth) => {
      const listed = paginateByCursor([credentialEntry(identity, auth)], request.url.searchParams);
      return listed.ok ? jsonResponse(200, listed.page) : badRequest(listed.message);
    }),
  );

  router.add(
    'GET',
    `${resources}/employees/employees`,
    versioned((request) => {
      const listed = paginateByCursor(employees.list(), request.url.searchParams);
      if (!listed.ok) return badRequest(listed.message);
      return jsonResponse(200, {
        data: listed.page.data.map((employee) => employees.resourceView(employee)),
        meta: listed.page.meta,
      });
    }),
  );

  router.add(
    'GET',
    `${resources}/employees/employees/:id`,
    versioned((request) => {
      const employee = employees.find(Number(request.params.id));
      return employee ? jsonResponse(200, employees.resourceView(employee)) : employeeNotFound();
    }),
  );

  router.add(
    'POST',
    `${resources}/employees/employees`,
    versioned((request) =>
      createEmployee(request, employees, (employee) => employees.resourceView(employee)),
    ),
  );

  router.add(
    'GET',
    '/api/v1/employees',
    api(() =>
      jsonResponse(
        200,
        employees.list().map((employee) => employees.legacyView(employee)),
      ),
    ),
  );

  router.add(
    'GET',
    '/api/v1/employees/:id',
    api((request) => {
      const employee = employees.find(Number(request.params.id));
      return employee ? jsonResponse(200, employees.legacyView(employee)) : employeeNotFound();
    }),
  );

  router.add(
    'POST',
    '/api/v1/employees',
    api((request) => createEmployee(request, employees, (employee) => employees.legacyView(employee))),
  );
}

/** Identity routes answer any valid credential, whatever its scopes. */
export function isIdentityPath(path: string): boolean {
  return path === '/api/v1/me' || /^\/api\/[^/]+\/resources\/api_public\/credentials$/.test(path);
}

/** Who the credential belongs to, as the credentials endpoint lists it. */
function credentialEntry(identity: FactorialIdentity, auth: ApiAuth): Record<string, unknown> {
  const { user, company } = identity;
  const base = { company_id: company.id, company_name: company.name, scopes: [...auth.scopes] };
  if (auth.subject.startsWith(USER_SUBJECT_PREFIX)) {
    return {
      id: user.accessId,
      ...base,
      email: user.email,
      employee_id: user.employeeId,
      full_name: `${user.firstName} ${user.lastName}`,
      role: user.role,
      resource_owner_type: 'user',
    };
  }
  const apiKey = auth.subject.startsWith(API_KEY_SUBJECT_PREFIX);
  return {
    id: apiKey ? identity.apiKey.id : company.id,
    ...base,
    email: null,
    employee_id: null,
    full_name: apiKey ? identity.apiKey.name : company.name,
    role: 'admin',
    resource_owner_type: apiKey ? 'api_key' : 'company',
  };
}

/** 201 with the new employee, 422 `{"errors":{field:[messages]}}`, or 400 for a body that is not JSON. */
async function createEmployee(
  request: EmulatorRequest,
  employees: EmployeeStore,
  view: (employee: Employee) => Record<string, unknown>,
): Promise<EmulatorResponse> {
  const type = mediaType(request);
  let fields: unknown;
  if (type === 'application/x-www-form-urlencoded' || type === 'multipart/form-data') {
    fields = await parseFormBody(request);
  } else {
    fields = parseJsonBody(request);
    if (fields === undefined && request.body.length > 0)
      return badRequest('The request body is not valid JSON.');
  }
  const validation = employees.validate(fields);
  if (!validation.ok) return jsonResponse(422, { errors: validation.errors });
  return jsonResponse(201, view(employees.create(validation.input)));
}

function badRequest(message: string): EmulatorResponse {
  return jsonResponse(400, { message });
}

function employeeNotFound(): EmulatorResponse {
  return jsonResponse(404, { message: 'Employee not found' });
}
