import { InvalidCursorError } from '@cronicorn/read-models';
import { badInput } from '../common/api-error';

/** Runs a list query; a cursor the read models cannot decode is the caller's 400 on `cursor`. */
export async function pageOrBadCursor<T>(query: () => Promise<T>): Promise<T> {
  try {
    return await query();
  } catch (error) {
    if (error instanceof InvalidCursorError) throw badInput({ cursor: 'is not a cursor from this list' });
    throw error;
  }
}
