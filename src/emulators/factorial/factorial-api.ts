/**
 * The Factorial API routes, behind the Bearer / `x-api-key` guard:
 * - who owns the credential: `GET /api/v1/me` and `GET /api/{version}/resources/api_public/credentials`;
 * - employees, current shape with cursor pagination: `GET|POST /api/{version}/resources/employees/employees`
 *   and `GET …/employees/{id}`, where `{version}` is `v2` or a dated version (see api-versions.ts);
 * - documents (a second resource, so per-resource scopes have something to refuse):
 *   `GET /api/{version}/resources/documents/documents`;
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
import { type ApiVersionPolicy, SERVED_VERSION_HEADER, servedVersion } from './api-versions.js';
import { paginateByCursor } from './cursor-pagination.js';
import { FACTORIAL_EMULATOR_DOCUMENTS } from './documents.js';
import type { Employee, EmployeeStore } from './employee-store.js';

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
  company: { id: number; name: string; legalName: string; tin: string };
  apiKey: { id: number };
}

export interface FactorialApiOptions {
  employees: EmployeeStore;
  identity: FactorialIdentity;
  versions: ApiVersionPolicy;
  notFound: (request: EmulatorRequest) => EmulatorResponse;
}

export function registerFactorialApi(router: Router, api: ApiGuard, options: FactorialApiOptions): void {
  const { employees, identity } = options;
  // The version is checked before authentication: an unknown version is an unknown route.
  const versioned =
    (handler: ApiHandler): RouteHandler =>
    async (request) => {
      const served = servedVersion(request.params.version ?? '', options.versions);
      if (served === undefined) return options.notFound(request);
      const response = await api(handler)(request);
      return { ...response, headers: { ...response.headers, [SERVED_VERSION_HEADER]: served } };
    };
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
    `${resources}/documents/documents`,
    versioned((request) => {
      const listed = paginateByCursor(FACTORIAL_EMULATOR_DOCUMENTS, request.url.searchParams);
      return listed.ok ? jsonResponse(200, listed.page) : badRequest(listed.message);
    }),
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

/** Resource namespaces whose scope has another name (oauth-scopes.md: Teams belong to `employees`). */
const NAMESPACE_SCOPES: Readonly<Record<string, string>> = { teams: 'employees' };

/**
 * The per-resource scope an API path belongs to: the namespace after `resources/`, and
 * `employees` for the legacy `/api/v1/employees` routes; undefined for paths of no resource.
 */
export function resourceScopeOf(path: string): string | undefined {
  const namespace = path.match(/^\/api\/[^/]+\/resources\/([^/]+)\//)?.[1];
  if (namespace !== undefined) return NAMESPACE_SCOPES[namespace] ?? namespace;
  return /^\/api\/v1\/employees(?:\/|$)/.test(path) ? 'employees' : undefined;
}

/**
 * The fields depend on who owns the credential (the official SDK's Credentials model):
 * always `id`, `company_id` and `employee_id`; a user adds `email`, `login_email`,
 * `full_name` (and its parts) and `role`; a company token or an API key, which act for
 * the company and no employee, add `name`, `legal_name` and `tin`.
 */
function credentialEntry(identity: FactorialIdentity, auth: ApiAuth): Record<string, unknown> {
  const { user, company } = identity;
  if (auth.subject.startsWith(USER_SUBJECT_PREFIX)) {
    return {
      id: user.accessId,
      company_id: company.id,
      employee_id: user.employeeId,
      email: user.email,
      login_email: user.email,
      full_name: `${user.firstName} ${user.lastName}`,
      first_name: user.firstName,
      last_name: user.lastName,
      role: user.role,
    };
  }
  return {
    id: auth.subject.startsWith(API_KEY_SUBJECT_PREFIX) ? identity.apiKey.id : company.id,
    company_id: company.id,
    employee_id: null,
    name: company.name,
    legal_name: company.legalName,
    tin: company.tin,
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
