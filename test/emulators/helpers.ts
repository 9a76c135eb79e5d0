/** Small HTTP helpers for talking to a running emulator over loopback. */
import type { PasswordGrantCredentials, RunningEmulator } from '../../src/emulators/core/oauth-emulator.js';

export interface JsonReply<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
}

export async function readJson<T = Record<string, unknown>>(response: Response): Promise<JsonReply<T>> {
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: (text ? JSON.parse(text) : undefined) as T,
  };
}

/** POSTs form fields to the token endpoint. */
export async function postToken(
  emulator: RunningEmulator,
  fields: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<JsonReply> {
  const response = await fetch(emulator.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...headers },
    body: new URLSearchParams(fields).toString(),
  });
  return readJson(response);
}

export function passwordFields(credentials: PasswordGrantCredentials): Record<string, string> {
  return {
    grant_type: 'password',
    client_id: credentials.clientId,
    client_secret: credentials.clientSecret,
    username: credentials.username,
    password: credentials.password,
  };
}

export function refreshFields(
  credentials: PasswordGrantCredentials,
  refreshToken: string,
): Record<string, string> {
  return {
    grant_type: 'refresh_token',
    client_id: credentials.clientId,
    client_secret: credentials.clientSecret,
    refresh_token: refreshToken,
  };
}

export interface TokenPair {
  access_token: string;
  refresh_token?: string;
  expires_in: number;
  token_type: string;
}

/** Password grant that must succeed. */
export async function login(emulator: RunningEmulator): Promise<TokenPair> {
  const reply = await postToken(emulator, passwordFields(emulator.credentials));
  if (reply.status !== 200) throw new Error(`password grant failed with ${reply.status}`);
  return reply.body as unknown as TokenPair;
}

/** Calls the API with a Bearer token (JSON body when given). */
export async function callApi(
  emulator: RunningEmulator,
  accessToken: string | undefined,
  path: string,
  init: { method?: string; json?: unknown; headers?: Record<string, string> } = {},
): Promise<JsonReply> {
  const headers: Record<string, string> = { accept: 'application/json', ...init.headers };
  if (accessToken !== undefined) headers.authorization = `Bearer ${accessToken}`;
  if (init.json !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${emulator.url}${path}`, {
    method: init.method ?? 'GET',
    headers,
    body: init.json === undefined ? undefined : JSON.stringify(init.json),
  });
  return readJson(response);
}

export function decodeJwtPart(token: string, index: 0 | 1): Record<string, unknown> {
  const part = token.split('.')[index] ?? '';
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** A bill request that passes validation. */
export function validBill(referenceCode: string): Record<string, unknown> {
  return {
    numbering_range_id: 8,
    reference_code: referenceCode,
    observation: '',
    payment_form: '1',
    payment_method_code: '10',
    customer: {
      identification: '123456789',
      dv: '3',
      names: 'Alan Turing',
      address: 'calle 1 # 2-68',
      email: 'alanturing@enigmasas.com',
      phone: '1234567890',
      legal_organization_id: '2',
      tribute_id: '21',
      identification_document_id: '3',
      municipality_id: '980',
    },
    items: [
      {
        code_reference: '12345',
        name: 'producto de prueba',
        quantity: 2,
        discount_rate: 0,
        price: 59500,
        tax_rate: '19.00',
        unit_measure_id: 70,
        standard_code_id: 1,
        is_excluded: 0,
        tribute_id: 1,
      },
    ],
  };
}

/** A v2 bill request (payment_details, items with a taxes list) that passes validation. */
export function validBillV2(referenceCode: string, identification = '123456789'): Record<string, unknown> {
  return {
    reference_code: referenceCode,
    numbering_range_id: 8,
    observation: '',
    payment_details: [{ payment_form: '1', payment_method_code: '10', amount: '119000.00' }],
    customer: {
      identification,
      dv: '3',
      names: 'Alan Turing',
      address: 'calle 1 # 2-68',
      email: 'alanturing@enigmasas.com',
      phone: '1234567890',
    },
    items: [
      {
        code_reference: '12345',
        name: 'producto de prueba',
        quantity: 2,
        discount_rate: 0,
        price: 59500,
        unit_measure_code: '94',
        standard_code: '999',
        taxes: [{ code: '01', rate: '19.00' }],
      },
    ],
  };
}
