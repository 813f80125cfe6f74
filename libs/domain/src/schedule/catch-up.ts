import { Cadence, cronAfter, cronBetween } from './cadence';
import { Context, Draft, instant, withJitter } from './governor.context';
import { RunPlan, SkippedSlots } from './governor.types';

// Catch-up (DESIGN §5 rule 7). Only a stored plan that was not handed out in time (the
// scheduler was down or far behind) triggers it: a plan in the past for any other reason
// (an overdue interval after a pause, a one-time runAt already passed) simply runs now.
//
// A slot is missed when it is older than `catchUpGraceMs`; a slot within the grace is due.
// Slots are counted on the cadence the plan follows (the schedule, or an interval hint).

/** How many missed slots are counted before giving up (the count is then a lower bound). */
const COUNT_LIMIT = 1_000;

/** Slots in order from the first missed one: the first `slots.length`, `count` in all. */
interface Slots {
  slots: number[];
  count: number;
  last: number;
  capped: boolean;
}

export function catchUp(ctx: Context, draft: Draft): RunPlan | null {
  const pendingRunAt = instant(ctx.history.pendingPlan?.runAt);
  const cutoff = ctx.now - ctx.options.catchUpGraceMs;
  if (!ctx.catchUp || pendingRunAt === null || pendingRunAt >= cutoff || draft.slot >= cutoff) return null;

  const missed = missedSlots(draft.cadence, draft.slot, cutoff);
  const next = firstSlotFrom(draft.cadence, missed, cutoff);
  const inputs = {
    ...draft.inputs,
    planBeforeCatchUp: draft.reason,
    pendingRunAt: ctx.history.pendingPlan?.runAt,
    catchUp: ctx.endpoint.catchUp,
    catchUpGraceMs: ctx.options.catchUpGraceMs,
    missedCount: missed.count,
  };
  switch (ctx.endpoint.catchUp) {
    case 'skip':
      return skipMissed(ctx, draft, missed, next, inputs);
    case 'all':
      return runAll(ctx, withDue(ctx, missed, next), inputs);
    case 'once':
    default:
      return runOnce(ctx, withDue(ctx, missed, next), inputs);
  }
}

//////////////////////////////////////// Policies

/** `once`: one run now for the first slot, every later slot up to now skipped. */
function runOnce(ctx: Context, slots: Slots, inputs: Record<string, unknown>): RunPlan {
  return {
    runAt: new Date(ctx.now),
    slot: new Date(slots.slots[0]),
    reason: 'catch_up:once',
    inputs,
    ...skippedFrom(slots, 1),
  };
}

/** `skip`: the missed slots are skipped; the plan is the next slot, due or future. */
function skipMissed(
  ctx: Context,
  draft: Draft,
  missed: Slots,
  next: number | null,
  inputs: Record<string, unknown>,
): RunPlan {
  const skipped = skippedFrom(missed, 0);
  const endAt = instant(ctx.endpoint.endAt) ?? Infinity;
  if (next === null || next > endAt)
    return { runAt: null, slot: null, reason: 'catch_up:skip', inputs, ...skipped };
  const plan = withJitter(ctx, { ...draft, slot: next, reason: 'catch_up:skip', inputs });
  return { ...plan, ...skipped };
}

/**
 * `all`: one run now per slot up to now, in order, at most `maxCatchUpRuns` (and what
 * `maxRuns` leaves); the later slots beyond the bound are skipped. The runs are handed out
 * together: the bound is what keeps them from flooding the target.
 */
function runAll(ctx: Context, slots: Slots, inputs: Record<string, unknown>): RunPlan {
  const { maxRuns } = ctx.endpoint;
  const left = maxRuns === null ? Infinity : maxRuns - ctx.history.scheduledRuns;
  const take = Math.max(1, Math.min(ctx.options.maxCatchUpRuns, left, slots.slots.length));
  const runs = slots.slots.slice(0, take).map((slot) => new Date(slot));
  return {
    runAt: new Date(ctx.now),
    slot: runs[0],
    reason: 'catch_up:all',
    inputs: { ...inputs, maxCatchUpRuns: ctx.options.maxCatchUpRuns },
    catchUpRuns: runs,
    ...skippedFrom(slots, take),
  };
}

//////////////////////////////////////// Slots

/** The cadence's slots in [first, cutoff). */
function missedSlots(cadence: Cadence, first: number, cutoff: number): Slots {
  if (cadence.kind === 'once') return { slots: [first], count: 1, last: first, capped: false };
  if (cadence.kind === 'interval') {
    const count = Math.ceil((cutoff - first) / cadence.intervalMs);
    const listed = Math.min(count, COUNT_LIMIT);
    const slots = Array.from({ length: listed }, (_, i) => first + i * cadence.intervalMs);
    return { slots, count, last: first + (count - 1) * cadence.intervalMs, capped: false };
  }
  const slots = [first, ...cronBetween(cadence, first, cutoff - 1, COUNT_LIMIT - 1)];
  return { slots, count: slots.length, last: slots[slots.length - 1], capped: slots.length === COUNT_LIMIT };
}

/** The first slot at or after the cutoff: the one the schedule goes on with. */
function firstSlotFrom(cadence: Cadence, missed: Slots, cutoff: number): number | null {
  if (cadence.kind === 'once') return null;
  if (cadence.kind === 'interval') return missed.last + cadence.intervalMs;
  return cronAfter(cadence, cutoff - 1);
}

/** The missed slots, plus the next one if it is already due (late by less than the grace). */
function withDue(ctx: Context, missed: Slots, next: number | null): Slots {
  if (next === null || next > ctx.now) return missed;
  const slots = missed.slots.length < COUNT_LIMIT ? [...missed.slots, next] : missed.slots;
  return { slots, count: missed.count + 1, last: next, capped: missed.capped };
}

/** The slots from index `from` on, as skipped; nothing when none are left. */
function skippedFrom(slots: Slots, from: number): { skipped?: SkippedSlots } {
  const count = slots.count - from;
  if (count <= 0) return {};
  const first = new Date(slots.slots[from] ?? slots.last);
  return { skipped: { policy: 'catch_up', count, first, last: new Date(slots.last), capped: slots.capped } };
}
