/**
 * What one chosen rule does to one request, in this order: wait (`delayMs`); then drop
 * the connection (`reset`), or answer with `status` instead of reaching the endpoint, or
 * let the endpoint answer; then edit that answer (`expiresIn`, `body`, `retryAfter`).
 * Every answer a rule touched says so in `x-emulator-fault`, so a log tells an injected
 * 503 from a real one.
 */
import { STATUS_CODES } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { type FaultBody, type FaultRule, isBodylessStatus } from './fault-rule.js';
import { bodyBytes, type EmulatorResponse } from './router.js';

export const FAULT_HEADER = 'x-emulator-fault';

export async function applyFault(
  rule: FaultRule,
  ruleId: string,
  next: () => Promise<EmulatorResponse>,
): Promise<EmulatorResponse> {
  // Unref'd: a delayed request must not keep a stopped emulator's process alive.
  if (rule.delayMs) await sleep(rule.delayMs, undefined, { ref: false });
  if (rule.reset) return { status: 0, dropConnection: true };

  let response = rule.status === undefined ? await next() : injectedAnswer(rule.status, ruleId);
  const headers: Record<string, string> = { ...response.headers, [FAULT_HEADER]: ruleId };
  if (rule.expiresIn !== undefined) response = withExpiresIn(response, rule.expiresIn);
  if (rule.body !== undefined) {
    const replaced = replacementBody(rule.body, response);
    setContentType(headers, replaced.contentType);
    response = { ...response, body: replaced.body };
  }
  if (rule.retryAfter !== undefined) headers['retry-after'] = String(rule.retryAfter);
  return { ...response, headers };
}

/** A small JSON body without an OAuth `error` field, so no client takes it for a real OAuth error. */
function injectedAnswer(status: number, ruleId: string): EmulatorResponse {
  if (isBodylessStatus(status)) return { status };
  const reason = STATUS_CODES[status] ?? `HTTP ${status}`;
  return {
    status,
    headers: { 'content-type': 'application/json' },
    body: { message: `${reason} (injected by fault rule ${ruleId})` },
  };
}

/** Only a successful JSON token answer has an `expires_in` to set; anything else passes as is. */
function withExpiresIn(response: EmulatorResponse, expiresIn: number): EmulatorResponse {
  const { body } = response;
  const isJsonObject =
    body !== null && typeof body === 'object' && !Buffer.isBuffer(body) && !Array.isArray(body);
  if (response.status < 200 || response.status > 299 || !isJsonObject) return response;
  return { ...response, body: { ...(body as Record<string, unknown>), expires_in: expiresIn } };
}

/** The junk a broken proxy or a half-deployed provider sends, in place of `answer`'s body. */
function replacementBody(kind: FaultBody, answer: EmulatorResponse): { body: string; contentType: string } {
  switch (kind) {
    case 'html': {
      const title = `${answer.status} ${STATUS_CODES[answer.status] ?? ''}`.trim();
      return {
        contentType: 'text/html; charset=utf-8',
        body: `<!DOCTYPE html>\n<html><head><title>${title}</title></head><body><h1>${title}</h1><hr><p>nginx</p></body></html>\n`,
      };
    }
    case 'invalid-json':
      return { contentType: 'application/json', body: cutOff(answer.body) };
    case 'empty':
      return { contentType: 'application/json', body: '' };
  }
}

/**
 * The first half of the answer's own JSON, as when a connection breaks during the write: a
 * client sees the start of the document it expected, never a whole one.
 */
function cutOff(body: unknown): string {
  const whole = bodyBytes(body)?.toString('utf8') ?? '{}';
  const half = whole.slice(0, Math.ceil(whole.length / 2));
  // A prefix of an object or array never parses; a bare number's might, so it gets a cut-off object.
  return isJson(half) ? '{"data":' : half;
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function setContentType(headers: Record<string, string>, value: string): void {
  for (const name of Object.keys(headers)) if (name.toLowerCase() === 'content-type') delete headers[name];
  headers['content-type'] = value;
}
