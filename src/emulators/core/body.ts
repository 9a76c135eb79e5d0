/**
 * Request bodies: reading them with a size cap, and parsing the three encodings the
 * emulators accept (application/x-www-form-urlencoded, multipart/form-data, JSON).
 */
import type { IncomingMessage } from 'node:http';
import { type EmulatorRequest, headerValue } from './router.js';

/** 1 MiB: larger bodies are answered with 413. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/** Past this many bytes an oversized body is no longer drained: the connection is dropped. */
const MAX_DRAIN_FACTOR = 16;

export type ReadBodyResult = { tooLarge: false; body: Buffer } | { tooLarge: true };

/**
 * Reads the whole body, keeping at most `maxBytes`. An oversized body is drained (and
 * discarded) so the client can read the 413 instead of seeing a reset connection.
 */
export function readRequestBody(incoming: IncomingMessage, maxBytes: number): Promise<ReadBodyResult> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let tooLarge = false;
    incoming.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > maxBytes) {
        tooLarge = true;
        chunks.length = 0;
        if (received > maxBytes * MAX_DRAIN_FACTOR) incoming.destroy();
        return;
      }
      chunks.push(chunk);
    });
    incoming.on('end', () =>
      resolve(tooLarge ? { tooLarge: true } : { tooLarge: false, body: Buffer.concat(chunks) }),
    );
    incoming.on('error', reject);
  });
}

/** Lower-cased media type without parameters (`multipart/form-data`), or '' when absent. */
export function mediaType(request: EmulatorRequest): string {
  return (headerValue(request, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase();
}

/**
 * Form fields from a urlencoded, multipart or JSON-object body (what Laravel merges into
 * its input). Anything else, or a body that does not parse, gives no fields. When a name
 * repeats, the last value wins (as in PHP). File parts are ignored. Every name becomes an own
 * property, `__proto__` included (built with Object.fromEntries, never by assignment).
 */
export async function parseFormBody(request: EmulatorRequest): Promise<Record<string, string>> {
  const type = mediaType(request);
  if (request.body.length === 0) return {};
  if (type === 'application/x-www-form-urlencoded') {
    return Object.fromEntries(new URLSearchParams(request.body.toString('utf8')));
  }
  if (type === 'multipart/form-data') {
    try {
      const contentType = headerValue(request, 'content-type') ?? '';
      const form = await new Response(request.body, { headers: { 'content-type': contentType } }).formData();
      const fields: [string, string][] = [];
      for (const [name, value] of form) {
        if (typeof value === 'string') fields.push([name, value]);
      }
      return Object.fromEntries(fields);
    } catch {
      return {};
    }
  }
  if (type === 'application/json' || type.endsWith('+json')) {
    const value = parseJsonBody(request);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return {};
    const fields: [string, string][] = [];
    for (const [name, field] of Object.entries(value)) {
      if (typeof field === 'string' || typeof field === 'number' || typeof field === 'boolean') {
        fields.push([name, String(field)]);
      }
    }
    return Object.fromEntries(fields);
  }
  return {};
}

/** The parsed JSON body, or undefined when there is none or it is not valid JSON. */
export function parseJsonBody(request: EmulatorRequest): unknown {
  if (request.body.length === 0) return undefined;
  try {
    return JSON.parse(request.body.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}
