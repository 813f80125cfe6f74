import { decodeCursor, encodeCursor, InvalidCursorError, pageSize, toPage } from './pagination';

describe('Pagination', () => {
  it('should default to 50 and clamp the page size to 1..100', () => {
    expect(pageSize(undefined)).toBe(50);
    expect(pageSize(10_000)).toBe(100);
    expect(pageSize(0)).toBe(1);
    expect(pageSize(-3)).toBe(1);
    expect(pageSize(7.9)).toBe(7);
    expect(pageSize(Number.NaN)).toBe(50);
  });

  it('should round-trip a cursor and refuse anything it did not produce', () => {
    const key = { at: '2026-03-02T10:00:00.000Z', id: 'run-1' };
    expect(decodeCursor(encodeCursor(key))).toEqual(key);
    expect(decodeCursor(undefined)).toBeNull();
    expect(decodeCursor('')).toBeNull();
    for (const forged of [
      'abc',
      Buffer.from('[1,2]').toString('base64url'),
      Buffer.from('["nope","x"]').toString('base64url'),
      // Date.parse takes these, Postgres does not: a 500 instead of a 400.
      ...[
        ['0', 'x'],
        ['1 2', 'x'],
        ['+275760-09-13T00:00:00.000Z', 'x'],
        ['0000-01-01T00:00:00.000Z', 'x'],
        ['2026-02-30T10:00:00.000Z', 'x'],
        ['2026-03-02T10:00:00.000Z', 'a\u0000b'],
      ].map((key) => Buffer.from(JSON.stringify(key)).toString('base64url')),
    ]) {
      expect(() => decodeCursor(forged)).toThrow(InvalidCursorError);
    }
  });

  it('should use the extra row only to tell that another page exists', () => {
    const rows = [1, 2, 3].map((n) => ({ n, at: `2026-03-02T10:0${n}:00.000Z` }));
    const key = (row: { n: number; at: string }) => ({ at: row.at, id: String(row.n) });
    const more = toPage(rows, 2, (row) => row.n, key);
    expect(more.items).toEqual([1, 2]);
    expect(decodeCursor(more.nextCursor)).toEqual({ at: rows[1].at, id: '2' });
    expect(toPage(rows.slice(0, 2), 2, (row) => row.n, key).nextCursor).toBeNull();
  });
});
