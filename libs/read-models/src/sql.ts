/** ISO string of a timestamptz column (pg gives a Date), null stays null. */
export function iso(value: Date | null): string | null {
  return value === null ? null : value.toISOString();
}

/** A bigint column (pg gives a decimal string) as a number; ours stay far below 2^53. */
export function num(value: string | number | null): number | null {
  return value === null ? null : Number(value);
}

/** Start of the UTC hour of an instant, as an ISO string. */
export function hourStart(instant: string): string {
  const ms = Date.parse(instant);
  return new Date(ms - (((ms % 3_600_000) + 3_600_000) % 3_600_000)).toISOString();
}

/**
 * SQL for the status of a row of rm_jobs or rm_endpoints at instant `now` (a SQL expression):
 * a pause whose `paused_until` has passed reads as active, as the domain judges it.
 */
export function statusAt(table: string, now: string): string {
  return `(CASE WHEN ${table}.status = 'paused' AND ${table}.paused_until IS NOT NULL AND ${table}.paused_until <= ${now}
                THEN 'active' ELSE ${table}.status END)`;
}
