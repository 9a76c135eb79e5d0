/**
 * Factorial's cursor pagination: `limit` (default and maximum 100), `after_id` and
 * `before_id` take a cursor from a previous page's `meta`; the answer is
 * `{data, meta: {has_next_page, has_previous_page, start_cursor, end_cursor, total, limit}}`.
 * Cursors are opaque to clients; here they are the base64url of the item's 1-based position.
 */

export const MAX_PAGE_LIMIT = 100;

export interface CursorPageMeta {
  has_next_page: boolean;
  has_previous_page: boolean;
  start_cursor: string | null;
  end_cursor: string | null;
  total: number;
  limit: number;
}

export interface CursorPage<T> {
  data: T[];
  meta: CursorPageMeta;
}

export type CursorPageResult<T> = { ok: true; page: CursorPage<T> } | { ok: false; message: string };

export function encodeCursor(position: number): string {
  return Buffer.from(String(position), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): number | undefined {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^\d{1,9}$/.test(text) || encodeCursor(Number(text)) !== cursor.replace(/=+$/, '')) return undefined;
  return Number(text);
}

/** One page of `items` (already in their stable order) as the query asks. */
export function paginateByCursor<T>(items: readonly T[], query: URLSearchParams): CursorPageResult<T> {
  let limit = MAX_PAGE_LIMIT;
  const rawLimit = query.get('limit');
  if (rawLimit !== null) {
    if (!/^\d+$/.test(rawLimit.trim()) || Number(rawLimit) < 1) {
      return {
        ok: false,
        message: `limit must be a whole number from 1 to ${MAX_PAGE_LIMIT}, got "${rawLimit}".`,
      };
    }
    limit = Math.min(MAX_PAGE_LIMIT, Number(rawLimit));
  }

  // Positions are 1-based; the window is (after, before) exclusive.
  let after = 0;
  let before = items.length + 1;
  for (const [name, apply] of [
    ['after_id', (position: number) => (after = position)],
    ['before_id', (position: number) => (before = position)],
  ] as const) {
    const raw = query.get(name);
    if (raw === null || raw === '') continue;
    const position = decodeCursor(raw);
    if (position === undefined) {
      return {
        ok: false,
        message: `${name} is not a cursor from this list; use start_cursor or end_cursor from meta.`,
      };
    }
    apply(position);
  }

  const lowest = Math.max(after + 1, 1);
  const highest = Math.min(before - 1, items.length);
  let first: number;
  let last: number;
  if (query.get('before_id') && !query.get('after_id')) {
    // Walking backwards: the `limit` items right before the cursor.
    last = highest;
    first = Math.max(lowest, last - limit + 1);
  } else {
    first = lowest;
    last = Math.min(highest, first + limit - 1);
  }
  const data = last >= first ? items.slice(first - 1, last) : [];
  return {
    ok: true,
    page: {
      data,
      meta: {
        // Whether items exist past what was returned (past the requested window when it is empty).
        has_next_page: (data.length > 0 ? last : highest) < items.length,
        has_previous_page: (data.length > 0 ? first : lowest) > 1,
        start_cursor: data.length > 0 ? encodeCursor(first) : null,
        end_cursor: data.length > 0 ? encodeCursor(last) : null,
        total: items.length,
        limit,
      },
    },
  };
}
