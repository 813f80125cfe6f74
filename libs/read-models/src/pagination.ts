/** One page of a list, newest first. Pass `nextCursor` back to get the next page. */
export interface Page<T> {
  items: T[];
  /** Opaque; null on the last page. */
  nextCursor: string | null;
}

export interface PageRequest {
  /** 1 to 100; default 50. Values outside are clamped. */
  limit?: number;
  /** A `nextCursor` from the previous page of the same list and filters. */
  cursor?: string | null;
}

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 100;

/** The cursor is not one this API produced (HTTP 400). */
export class InvalidCursorError extends Error {
  readonly code = 'READ_MODELS.INVALID_CURSOR';

  constructor() {
    super('Invalid cursor');
    this.name = 'InvalidCursorError';
  }
}

/** The position of the last item of a page in a list ordered by (at DESC, id DESC). */
export interface CursorKey {
  at: string;
  id: string;
}

export function pageSize(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return DEFAULT_PAGE_SIZE;
  return Math.min(MAX_PAGE_SIZE, Math.max(1, Math.trunc(limit)));
}

export function encodeCursor(key: CursorKey): string {
  return Buffer.from(JSON.stringify([key.at, key.id])).toString('base64url');
}

// What `encodeCursor` writes: `toISOString()` of a timestamp Postgres can hold (years 1-9999).
const CURSOR_AT = /^(?!0000)\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * The key of a cursor from `encodeCursor`. Anything else is an InvalidCursorError, before it
 * reaches SQL: Postgres refuses timestamps that `Date.parse` takes (`"0"`) and NUL in text.
 */
export function decodeCursor(cursor: string | null | undefined): CursorKey | null {
  if (cursor === undefined || cursor === null || cursor === '') return null;
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      typeof value[0] === 'string' &&
      typeof value[1] === 'string' &&
      CURSOR_AT.test(value[0]) &&
      new Date(value[0]).toISOString() === value[0] &&
      !value[1].includes('\u0000')
    ) {
      return { at: value[0], id: value[1] };
    }
  } catch {
    // fall through
  }
  throw new InvalidCursorError();
}

/**
 * Turns `limit + 1` fetched rows into a page: the extra row only says whether there is more.
 */
export function toPage<R, T>(
  rows: R[],
  limit: number,
  view: (row: R) => T,
  key: (row: R) => CursorKey,
): Page<T> {
  const more = rows.length > limit;
  const kept = more ? rows.slice(0, limit) : rows;
  return {
    items: kept.map(view),
    nextCursor: more ? encodeCursor(key(kept[kept.length - 1])) : null,
  };
}
