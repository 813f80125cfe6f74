import { Queryable } from './projection';

/** Name of the projector's log tail (its checkpoint in `consumer_checkpoints`). */
export const PROJECTOR_CONSUMER = 'projector';

const DIGITS = /^\d+$/;

/**
 * True when the projector has processed the event at global `position` (its checkpoint is at
 * or past it); false while it has not, or when there is no such event.
 * Positions are decimal strings; anything else throws a RangeError (validate input first).
 */
export async function readModelProgress(
  db: Queryable,
  position: string,
  consumer: string = PROJECTOR_CONSUMER,
): Promise<boolean> {
  if (!DIGITS.test(position)) throw new RangeError(`Not a log position: "${position}"`);
  const { rows } = await db.query<{ done: boolean }>({
    name: 'rm.progress',
    text: `SELECT EXISTS (
       SELECT 1 FROM events e
        WHERE e.position = $1::bigint
          AND EXISTS (SELECT 1 FROM consumer_checkpoints c
                       WHERE c.consumer = $2
                         AND (e.transaction_id, e.position) <= (c.transaction_id::text::xid8, c.position))) AS done`,
    values: [position, consumer],
  });
  return rows[0].done;
}

export interface WaitForPositionOptions {
  consumer?: string;
  /** Pause between checks; default 25 ms. */
  pollMs?: number;
}

/**
 * Waits until {@link readModelProgress} says the event at `position` is in the read models,
 * at most `timeoutMs`. Resolves true when it is, false on timeout (serve what is there, or
 * tell the client to retry). Used for the API's `x-min-position` header.
 */
export async function waitForPosition(
  db: Queryable,
  position: string,
  timeoutMs: number,
  options: WaitForPositionOptions = {},
): Promise<boolean> {
  const deadline = Date.now() + Math.max(0, timeoutMs);
  const pollMs = options.pollMs ?? 25;
  for (;;) {
    if (await readModelProgress(db, position, options.consumer)) return true;
    const left = deadline - Date.now();
    if (left <= 0) return false;
    await new Promise((resolve) => setTimeout(resolve, Math.min(pollMs, left)));
  }
}
