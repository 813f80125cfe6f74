import type { EndpointSchedule } from '@cronicorn/events';
import { cronTimesBetween, nextCronTimes } from './cron';

// How runs repeat, as the governor's steps see it: the endpoint's schedule, or the interval
// of a hint that replaces it. Times are epoch milliseconds inside the governor.

export type Cadence =
  | { kind: 'cron'; cron: string; timezone: string }
  | { kind: 'interval'; intervalMs: number }
  | { kind: 'once' };

type Cron = Extract<Cadence, { kind: 'cron' }>;

/** How an endpoint's own schedule repeats. */
export function cadenceOf(schedule: EndpointSchedule): Cadence {
  if (schedule.kind === 'cron') return { kind: 'cron', cron: schedule.cron, timezone: schedule.timezone };
  if (schedule.kind === 'interval') return { kind: 'interval', intervalMs: schedule.intervalMs };
  return { kind: 'once' };
}

/** The first cron time strictly after `t`. */
export function cronAfter(cadence: Cron, t: number): number {
  return nextCronTimes(cadence.cron, cadence.timezone, new Date(t), 1)[0].getTime();
}

/** The cron times in (`after`, `until`], at most `limit`. */
export function cronBetween(cadence: Cron, after: number, until: number, limit: number): number[] {
  return cronTimesBetween(cadence.cron, cadence.timezone, new Date(after), new Date(until), limit).map(
    (date) => date.getTime(),
  );
}

/**
 * The cadence's slot at or after `t`. A cron plan pushed back by a floor lands on the next
 * fire time, so re-planning later finds the same slot; intervals have no grid to keep.
 */
export function snap(cadence: Cadence, t: number): number {
  return cadence.kind === 'cron' ? cronAfter(cadence, t - 1) : t;
}

/** The slot that follows `slot`, or null for a one-time schedule. */
export function slotAfter(cadence: Cadence, slot: number): number | null {
  if (cadence.kind === 'cron') return cronAfter(cadence, slot);
  if (cadence.kind === 'interval') return slot + cadence.intervalMs;
  return null;
}

/** The length of the period that starts after `t`; null for a one-time schedule. */
export function periodMs(cadence: Cadence, t: number): number | null {
  if (cadence.kind === 'interval') return cadence.intervalMs;
  if (cadence.kind === 'once') return null;
  const [first, second] = nextCronTimes(cadence.cron, cadence.timezone, new Date(t), 2);
  return second.getTime() - first.getTime();
}
