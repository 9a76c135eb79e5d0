/**
 * Laravel-style field checks shared by the v1 and v2 request validators: each failing
 * field adds a Spanish message under its dotted path, as Factus answers them.
 */

export type Json = Record<string, unknown>;

export type AddError = (field: string, message: string) => void;

/** Laravel-style validation errors: every message for a field, in the order found. */
export function errorCollector(): { errors: Record<string, string[]>; add: AddError } {
  const errors: Record<string, string[]> = {};
  const add: AddError = (field, message) => {
    errors[field] = [...(errors[field] ?? []), message];
  };
  return { errors, add };
}

export function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export function requiredString(source: Json, key: string, add: AddError, prefix = ''): string | undefined {
  const value = source[key];
  const field = `${prefix}${key}`;
  if (value === undefined || value === null || value === '') {
    add(field, `El campo ${field} es obligatorio.`);
    return undefined;
  }
  if (typeof value === 'number') return String(value);
  if (typeof value !== 'string') {
    add(field, `El campo ${field} debe ser una cadena de caracteres.`);
    return undefined;
  }
  if (value.trim() === '') {
    add(field, `El campo ${field} es obligatorio.`);
    return undefined;
  }
  return value;
}

export function optionalString(source: Json, key: string): string | null {
  const value = source[key];
  if (typeof value === 'number') return String(value);
  return typeof value === 'string' && value.trim() !== '' ? value : null;
}

export function toNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && value.trim() !== '') {
    const parsed = Number(value);
    return Number.isFinite(parsed) ? parsed : undefined;
  }
  return undefined;
}

export function requiredNumber(source: Json, key: string, add: AddError, prefix = ''): number | undefined {
  const value = source[key];
  const field = `${prefix}${key}`;
  if (value === undefined || value === null || value === '') {
    add(field, `El campo ${field} es obligatorio.`);
    return undefined;
  }
  const parsed = toNumber(value);
  if (parsed === undefined) add(field, `El campo ${field} debe ser numérico.`);
  return parsed;
}

export function optionalNumber(source: Json, key: string, add: AddError, prefix = ''): number | undefined {
  const value = source[key];
  if (value === undefined || value === null || value === '') return undefined;
  const parsed = toNumber(value);
  if (parsed === undefined) add(`${prefix}${key}`, `El campo ${prefix}${key} debe ser numérico.`);
  return parsed;
}
