/**
 * Reads a response body up to a size limit. A token endpoint that answers with
 * megabytes (a misrouted download, a hostile server) must not exhaust memory.
 */

export class BodyTooLargeError extends Error {
  constructor(readonly limitBytes: number) {
    super(`response body larger than ${limitBytes} bytes`);
  }
}

/** Statuses whose Response must have a null body. */
export const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

export async function readBodyWithLimit(response: Response, limitBytes: number): Promise<Uint8Array> {
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > limitBytes) {
    await response.body?.cancel();
    throw new BodyTooLargeError(limitBytes);
  }
  if (!response.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limitBytes) {
      await reader.cancel();
      throw new BodyTooLargeError(limitBytes);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

/** The same response with its body read into memory (bounded), so it can be parsed freely. */
export async function bufferResponse(response: Response, limitBytes: number): Promise<Response> {
  const body = await readBodyWithLimit(response, limitBytes);
  return new Response(NULL_BODY_STATUSES.has(response.status) ? null : body, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}
