/**
 * Factus's response envelope `{status, message, data}` (Laravel underneath): success,
 * validation errors (422), conflicts (409), missing documents (404) and missing rights
 * (403, Laravel's default authorization message).
 */
import { type EmulatorResponse, jsonResponse } from '../core/router.js';

export const SUCCESS_MESSAGE = 'Solicitud exitosa';

export function ok(data: unknown, status = 200, message = SUCCESS_MESSAGE): EmulatorResponse {
  return jsonResponse(status, { status: status === 201 ? 'Created' : 'OK', message, data });
}

export function validationError(message: string, errors: unknown, extra: Record<string, unknown> = {}) {
  return jsonResponse(422, {
    status: 'Validation error',
    message: 'Error de validación',
    data: { message, errors, ...extra },
  });
}

export function conflict(message: string, data?: unknown): EmulatorResponse {
  return jsonResponse(409, { status: 'Conflict', message, ...(data === undefined ? {} : { data }) });
}

export function notFound(message: string): EmulatorResponse {
  return jsonResponse(404, { status: 'Not Found', message });
}

/** A valid token whose user lacks the rights for the request (Laravel's AuthorizationException). */
export function forbidden(): EmulatorResponse {
  return jsonResponse(403, { message: 'This action is unauthorized.' });
}
