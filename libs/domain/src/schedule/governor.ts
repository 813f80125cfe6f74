import { HintKind } from '@cronicorn/events';
import { DomainError } from '../core/errors';
import { Cadence, cronAfter, cronBetween, periodMs, snap } from './cadence';
import { catchUp } from './catch-up';
import {
  Context,
  Draft,
  context,
  hintInForce,
  inRange,
  instant,
  iso,
  noRun,
  runAtFor,
  withJitter,
} from './governor.context';
import {
  DEFAULT_GOVERNOR_OPTIONS,
  GovernedEndpoint,
  GovernorOptions,
  PlanReason,
  RunHistory,
  RunPlan,
} from './governor.types';

// The governor (DESIGN §5): when should this endpoint run next? Pure: `now` comes in, a plan
// with its reason and inputs comes out. The steps run in the order of docs/governor.md.

/**
 * Plans the endpoint's next run. Call it whenever an input changes (endpoint or job event,
 * run started or finished) and again when a stored plan comes due, with that plan as
 * `history.pendingPlan`: the plan is always recomputed from the inputs, never kept.
 */
export function planNextRun(
  now: Date,
  endpoint: GovernedEndpoint,
  history: RunHistory,
  options: Partial<GovernorOptions> = {},
): RunPlan {
  const ctx = context(now, endpoint, history, { ...DEFAULT_GOVERNOR_OPTIONS, ...options });
  const stopped = noRunReason(ctx);
  if (stopped) return stopped;
  const pause = pauseInForce(ctx);
  if (!pause) return planAt(ctx);
  const plan = planAt({ ...ctx, at: pause.until, hintsAt: pause.until, catchUp: false });
  if (plan.runAt === null) return plan;
  return {
    ...plan,
    reason: pause.reason,
    inputs: { ...plan.inputs, ...pause.inputs, pausedUntil: iso(pause.until), planAfterPause: plan.reason },
  };
}

//////////////////////////////////////// 1. No run at all

function noRunReason(ctx: Context): RunPlan | null {
  const { endpoint, history, now } = ctx;
  if (endpoint.status.kind === 'archived') return noRun('archived', {});
  if (endpoint.job.kind === 'archived') return noRun('job_archived', {});
  const endAt = instant(endpoint.endAt);
  if (endAt !== null && now > endAt && !dueBeforeEnd(ctx, endAt)) {
    return noRun('ended:end_at', { now: iso(now), endAt: endpoint.endAt });
  }
  if (endpoint.maxRuns !== null && history.scheduledRuns >= endpoint.maxRuns) {
    return noRun('ended:max_runs', { maxRuns: endpoint.maxRuns, scheduledRuns: history.scheduledRuns });
  }
  if (endpoint.schedule.kind === 'once' && onceDone(ctx, endpoint.schedule.runAt)) {
    return noRun('ended:once', { runAt: endpoint.schedule.runAt, scheduledRuns: history.scheduledRuns });
  }
  if (endpoint.status.kind === 'paused' && endpoint.status.until === null) return noRun('paused', {});
  if (endpoint.job.kind === 'paused' && endpoint.job.until === null) return noRun('job_paused', {});
  const limit = endpoint.pauseAfterFailures;
  if (limit !== null && limit > 0 && history.consecutiveFailures >= limit) {
    const inputs = { pauseAfterFailures: limit, consecutiveFailures: history.consecutiveFailures };
    return { ...noRun('pause_after_failures', inputs), pauseForFailures: true };
  }
  return null;
}

/**
 * A plan made for a time up to `endAt` that came due is still handed out when the hand-out
 * comes a little after `endAt` (a run planned at `endAt` always does); a plan missed by more
 * than the catch-up grace is not.
 */
function dueBeforeEnd(ctx: Context, endAt: number): boolean {
  const runAt = instant(ctx.history.pendingPlan?.runAt);
  return runAt !== null && runAt <= endAt && runAt >= ctx.now - ctx.options.catchUpGraceMs;
}

/**
 * A one-time schedule has run, or its slot was skipped. Runs of an earlier schedule (the
 * endpoint was changed to this one-time run) started before the slot and do not count.
 */
function onceDone(ctx: Context, runAt: string): boolean {
  const slot = instant(runAt);
  const skippedThrough = instant(ctx.history.skippedThrough);
  const ran =
    ctx.history.scheduledRuns >= 1 && (slot === null || ctx.lastRunAt === null || ctx.lastRunAt >= slot);
  return ran || (slot !== null && skippedThrough !== null && skippedThrough >= slot);
}

//////////////////////////////////////// 2. Paused until a time

interface Pause {
  until: number;
  reason: PlanReason;
  inputs: Record<string, unknown>;
}

/**
 * The pause that ends last, if any is in force. The plan is then computed as of its end:
 * the first run after the pause, which is the pause's end itself when a run is overdue.
 */
function pauseInForce(ctx: Context): Pause | null {
  const { endpoint, now } = ctx;
  const pauses: Pause[] = [];
  if (endpoint.status.kind === 'paused') pauses.push(timed('paused_until', endpoint.status.until));
  if (endpoint.job.kind === 'paused') pauses.push(timed('job_paused_until', endpoint.job.until));
  const hint = hintInForce(endpoint.hints, 'pause', now);
  if (hint) {
    // The decider clamps AI pauses already; the cap here keeps an older event honest too. A
    // user's pause (source api) is held to the hint's own limits only.
    const capped =
      hint.source === 'api' ? Infinity : (instant(hint.proposedAt) ?? now) + ctx.options.aiMaxPauseMs;
    const until = Math.min(instant(hint.value) ?? -Infinity, instant(hint.expiresAt) ?? -Infinity, capped);
    pauses.push({
      until,
      reason: 'hint:pause',
      inputs: { hintId: hint.hintId, hintValue: hint.value, aiMaxPauseMs: ctx.options.aiMaxPauseMs },
    });
  }
  const inForce = pauses.filter((pause) => pause.until > now).sort((a, b) => a.until - b.until);
  return inForce.at(-1) ?? null;
}

function timed(reason: PlanReason, until: string | null): Pause {
  return { until: instant(until) ?? -Infinity, reason, inputs: {} };
}

//////////////////////////////////////// 3–8. The plan as of `ctx.at`

function planAt(ctx: Context, expired: ReadonlySet<HintKind> = new Set()): RunPlan {
  try {
    const draft = draftPlan(ctx, expired);
    const endAt = instant(ctx.endpoint.endAt);
    // `at` is past `now` only after a pause: a run at its end would come after endAt too.
    if (endAt !== null && Math.max(draft.slot, ctx.at > ctx.now ? ctx.at : -Infinity) > endAt) {
      return noRun('ended:end_at', { ...draft.inputs, slot: iso(draft.slot), endAt: ctx.endpoint.endAt });
    }
    const caughtUp = catchUp(ctx, draft);
    // A catch-up `skip` goes on to a later slot of the hint's cadence: past its expiry, without it.
    if (draft.hint && caughtUp?.runAt && caughtUp.runAt.getTime() >= draft.hint.expiresAt) {
      return planAt(ctx, new Set([...expired, draft.hint.kind]));
    }
    return caughtUp ?? withJitter(ctx, draft);
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    return noRun('invalid_schedule', { schedule: ctx.endpoint.schedule, error: error.message });
  }
}

/**
 * Baseline, interval hint, backoff, one-shot, floors. A hint only decides a run that comes
 * before it expires: when backoff, a floor or jitter pushes its run past the expiry, the plan is
 * drawn again without it, so re-planning at the due time finds the same plan.
 */
function draftPlan(ctx: Context, expired: ReadonlySet<HintKind>): Draft {
  const cadence = backoff(ctx, intervalHint(ctx, baseline(ctx), expired.has('interval')));
  const draft = floors(ctx, expired.has('one_shot') ? cadence : oneShot(ctx, cadence));
  const { hint } = draft;
  // Judged from `hintsAt`: a stored plan that came due before the expiry is still the hint's.
  if (hint && runAtFor(ctx, draft.slot, ctx.hintsAt).runAt >= hint.expiresAt) {
    return draftPlan(ctx, new Set([...expired, hint.kind]));
  }
  return draft;
}

//////////////////////////////////////// 3. Baseline

function baseline(ctx: Context): Draft {
  const { schedule } = ctx.endpoint;
  const inputs = { at: iso(ctx.at), schedule };
  switch (schedule.kind) {
    case 'cron': {
      const cadence: Cadence = { kind: 'cron', cron: schedule.cron, timezone: schedule.timezone };
      // A stored slot that is due (or missed) is still the next one: searching from `now`
      // would step over it.
      const pendingSlot = ctx.catchUp ? instant(ctx.history.pendingPlan?.slot) : null;
      const from = pendingSlot === null ? ctx.at : Math.min(ctx.at, pendingSlot);
      return { slot: cronSlotFrom(ctx, cadence, from), reason: 'cron', cadence, onGrid: true, inputs };
    }
    case 'interval': {
      if (!(schedule.intervalMs > 0)) {
        throw new DomainError('SCHEDULE.INVALID_INTERVAL', 'intervalMs must be positive', 'invalid');
      }
      const cadence: Cadence = { kind: 'interval', intervalMs: schedule.intervalMs };
      return {
        slot: intervalSlot(ctx, schedule.intervalMs),
        reason: 'interval',
        cadence,
        onGrid: true,
        inputs: { ...inputs, measuredFrom: isoOrNull(ctx.handledThrough) },
      };
    }
    case 'once': {
      const runAt = instant(schedule.runAt);
      if (runAt === null) {
        throw new DomainError('SCHEDULE.INVALID_RUN_AT', 'runAt is not an instant', 'invalid');
      }
      return { slot: runAt, reason: 'once', cadence: { kind: 'once' }, onGrid: true, inputs };
    }
  }
}

/** The baseline slot at or after `t` (where an interval hint hands back to the schedule). */
function baselineAtOrAfter(ctx: Context, base: Draft, t: number): number {
  if (base.cadence.kind === 'cron') return cronSlotFrom(ctx, base.cadence, t);
  return Math.max(base.slot, t);
}

/** The first fire time at or after `from`, after every handled slot, not before creation or `startAt`. */
function cronSlotFrom(ctx: Context, cadence: Extract<Cadence, { kind: 'cron' }>, from: number): number {
  const notBefore = Math.max(
    from,
    instant(ctx.endpoint.createdAt) ?? -Infinity,
    instant(ctx.endpoint.startAt) ?? -Infinity,
  );
  return cronAfter(cadence, Math.max(notBefore - 1, ctx.handledThrough ?? -Infinity));
}

/** Last run + interval; the first run at `startAt` or creation (overdue plans run at once). */
function intervalSlot(ctx: Context, intervalMs: number): number {
  if (ctx.handledThrough !== null) return inRange(ctx.handledThrough + intervalMs, 'intervalMs');
  return instant(ctx.endpoint.startAt) ?? instant(ctx.endpoint.createdAt) ?? ctx.at;
}

//////////////////////////////////////// 4. Interval hint

/**
 * An interval hint replaces the cadence while it lasts: the plan is last run + hint if that
 * comes before the hint expires, otherwise the first baseline slot at or after `expiresAt`
 * (an overdue baseline runs at the expiry). Before the first run there is nothing to measure
 * the hint from, so the baseline decides.
 */
function intervalHint(ctx: Context, base: Draft, expired: boolean): Draft {
  const hint = hintInForce(ctx.endpoint.hints, 'interval', ctx.hintsAt);
  const expiresAt = instant(hint?.expiresAt);
  if (!hint || expiresAt === null || !(hint.value > 0)) return base;
  if (base.cadence.kind === 'once' || ctx.handledThrough === null) return base;
  const intervalMs = Math.min(hint.value, hintCapMs(ctx, base));
  const hintSlot = inRange(ctx.handledThrough + intervalMs, 'the interval hint');
  const hintInputs = {
    hintId: hint.hintId,
    hintIntervalMs: intervalMs,
    hintRequestedMs: hint.value,
    hintExpiresAt: hint.expiresAt,
  };
  if (!expired && hintSlot < expiresAt) {
    const cadence: Cadence = { kind: 'interval', intervalMs };
    const inputs = { ...base.inputs, measuredFrom: iso(ctx.handledThrough), ...hintInputs };
    return {
      slot: hintSlot,
      reason: 'hint:interval',
      cadence,
      onGrid: true,
      inputs,
      hint: { kind: 'interval', expiresAt },
    };
  }
  return {
    ...base,
    slot: baselineAtOrAfter(ctx, base, expiresAt),
    inputs: { ...base.inputs, ...hintInputs, hintExpiresBeforeItsRun: true },
  };
}

/** `maxIntervalMs` caps stretching, never the baseline's own period (a daily cron stays daily). */
function hintCapMs(ctx: Context, base: Draft): number {
  const max = ctx.endpoint.maxIntervalMs;
  if (max === null) return Infinity;
  return Math.max(max, periodMs(base.cadence, ctx.handledThrough ?? ctx.at) ?? 0);
}

//////////////////////////////////////// 5. Backoff

/**
 * n failures in a row stretch the cadence to period × 2^(n−1) from the last run's start,
 * capped at maxIntervalMs (default cap when unset); only ever later than the cadence. A cron
 * skips whole slots instead (every 2^(n−1)-th fire time, at most 256 ahead), so it stays on
 * its grid.
 */
function backoff(ctx: Context, draft: Draft): Draft {
  const failures = ctx.history.consecutiveFailures;
  if (failures < 2 || ctx.lastRunAt === null || draft.cadence.kind === 'once') return draft;
  const factor = 2 ** Math.min(failures - 1, 30);
  const capMs = ctx.endpoint.maxIntervalMs ?? ctx.options.defaultMaxBackoffMs;
  const slot =
    draft.cadence.kind === 'cron'
      ? cronBackoff(draft.cadence, ctx.lastRunAt, factor, capMs)
      : inRange(ctx.lastRunAt + Math.min(draft.cadence.intervalMs * factor, capMs), 'the backoff');
  if (slot === null || slot <= draft.slot) return draft;
  const inputs = {
    ...draft.inputs,
    lastRunAt: iso(ctx.lastRunAt),
    consecutiveFailures: failures,
    backoffFactor: factor,
    backoffCapMs: capMs,
  };
  return { ...draft, slot, reason: 'backoff', inputs };
}

function cronBackoff(
  cadence: Extract<Cadence, { kind: 'cron' }>,
  lastRunAt: number,
  factor: number,
  capMs: number,
): number | null {
  const slots = cronBetween(cadence, lastRunAt, lastRunAt + capMs, Math.min(factor, 256));
  return slots.at(-1) ?? null;
}

//////////////////////////////////////// 4b. One-shot hint (applied after backoff)

/**
 * An unexpired one-shot wins when it is earlier than the cadence (backoff included: it is
 * an explicit request). A run at or after its instant consumed it. A one-time schedule takes
 * none: it runs once, at its runAt (an earlier run would not end it, so it would run twice).
 */
function oneShot(ctx: Context, draft: Draft): Draft {
  if (draft.cadence.kind === 'once') return draft;
  const hint = hintInForce(ctx.endpoint.hints, 'one_shot', ctx.hintsAt);
  const at = instant(hint?.value);
  const expiresAt = instant(hint?.expiresAt);
  if (!hint || at === null || expiresAt === null || at >= draft.slot) return draft;
  if (ctx.handledThrough !== null && ctx.handledThrough >= at) return draft;
  const inputs = {
    ...draft.inputs,
    hintId: hint.hintId,
    oneShotAt: hint.value,
    hintExpiresAt: hint.expiresAt,
  };
  return {
    ...draft,
    slot: at,
    reason: 'hint:one_shot',
    onGrid: false,
    inputs,
    hint: { kind: 'one_shot', expiresAt },
  };
}

//////////////////////////////////////// 6. Floors

interface Floor {
  reason: PlanReason;
  at: number;
  inputs: Record<string, unknown>;
}

/** Retry-After, minIntervalMs (from the last run's start) and startAt: never plan before them. */
function floors(ctx: Context, draft: Draft): Draft {
  const binding = [retryAfter(ctx), minInterval(ctx), startAt(ctx)]
    .filter((floor): floor is Floor => floor !== null)
    .sort((a, b) => a.at - b.at)
    .at(-1);
  if (!binding || binding.at <= draft.slot) return draft;
  const slot = draft.onGrid ? snap(draft.cadence, binding.at) : binding.at;
  return {
    ...draft,
    slot,
    reason: binding.reason,
    inputs: { ...draft.inputs, ...binding.inputs, unfloored: iso(draft.slot) },
  };
}

function retryAfter(ctx: Context): Floor | null {
  const last = ctx.history.lastFinished;
  const finishedAt = instant(last?.finishedAt);
  const throttled = last?.httpStatus === 429 || last?.httpStatus === 503;
  if (!last || !throttled || finishedAt === null || last.retryAfterMs === null) return null;
  return {
    reason: 'retry_after',
    at: inRange(finishedAt + last.retryAfterMs, 'Retry-After'),
    inputs: { httpStatus: last.httpStatus, retryAfterMs: last.retryAfterMs, finishedAt: last.finishedAt },
  };
}

function minInterval(ctx: Context): Floor | null {
  const { minIntervalMs } = ctx.endpoint;
  if (minIntervalMs === null || minIntervalMs <= 0 || ctx.lastRunAt === null) return null;
  return {
    reason: 'min_interval',
    at: inRange(ctx.lastRunAt + minIntervalMs, 'minIntervalMs'),
    inputs: { minIntervalMs, lastRunAt: iso(ctx.lastRunAt) },
  };
}

function startAt(ctx: Context): Floor | null {
  const at = instant(ctx.endpoint.startAt);
  return at === null ? null : { reason: 'start_at', at, inputs: { startAt: ctx.endpoint.startAt } };
}

function isoOrNull(ms: number | null): string | null {
  return ms === null ? null : iso(ms);
}
