import { invalid } from '../core/errors';
import { Cadence } from './cadence';
import { MAX_INSTANT } from './cron';
import {
  GovernedEndpoint,
  GovernorHint,
  GovernorOptions,
  PlanReason,
  RunHistory,
  RunPlan,
} from './governor.types';
import { jitterOffsetMs } from './jitter';

// What the governor's steps share: the inputs read once, and the plan being built.

/** The inputs of one planning, with the instants the steps need already parsed. */
export interface Context {
  now: number;
  /** The instant the plan is computed for: `now`, or the end of the pause in force. */
  at: number;
  endpoint: GovernedEndpoint;
  history: RunHistory;
  options: GovernorOptions;
  /** When the latest run started (or was handed out, until it starts). */
  lastRunAt: number | null;
  /** The later of `lastRunAt` and `skippedThrough`: no slot up to it is planned again. */
  handledThrough: number | null;
  /**
   * The instant interval and one-shot hints are judged at: `at`, or the stored plan's `runAt`
   * when it is due (late by less than the catch-up grace). A hint that planned a run before it
   * expires still decides that run when its hand-out comes a little after the expiry.
   */
  hintsAt: number;
  /** Catch-up applies (not when planning past a pause: the pause explains the gap). */
  catchUp: boolean;
}

/** A plan under construction: a slot, why, and the cadence that floors snap to. */
export interface Draft {
  slot: number;
  reason: PlanReason;
  cadence: Cadence;
  /** Floors snap to the cadence; false for a one-shot, which names its own instant. */
  onGrid: boolean;
  inputs: Record<string, unknown>;
  /** The hint that set the slot: it decides only a run before it expires. */
  hint?: { kind: 'interval' | 'one_shot'; expiresAt: number };
}

export function instant(value: string | null | undefined): number | null {
  if (value === null || value === undefined) return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : ms;
}

export const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * `ms` when a date can hold it. A sum past that (a huge interval, `minIntervalMs` or
 * Retry-After) or NaN throws a `DomainError`: the plan is then `invalid_schedule`.
 */
export function inRange(ms: number, what: string): number {
  if (Math.abs(ms) <= MAX_INSTANT) return ms;
  throw invalid('SCHEDULE.OUT_OF_RANGE', `${what} leads past the last instant a date can hold`);
}

const latest = (a: number | null, b: number | null): number | null =>
  a === null ? b : b === null ? a : Math.max(a, b);

export function context(
  now: Date,
  endpoint: GovernedEndpoint,
  history: RunHistory,
  options: GovernorOptions,
): Context {
  const lastRun = history.lastRun;
  const lastRunAt = lastRun ? latest(instant(lastRun.scheduledFor), instant(lastRun.startedAt)) : null;
  const pendingRunAt = instant(history.pendingPlan?.runAt);
  const due =
    pendingRunAt !== null &&
    pendingRunAt <= now.getTime() &&
    pendingRunAt >= now.getTime() - options.catchUpGraceMs;
  return {
    now: now.getTime(),
    at: now.getTime(),
    hintsAt: due ? pendingRunAt : now.getTime(),
    endpoint,
    history,
    options,
    lastRunAt,
    handledThrough: latest(lastRunAt, instant(history.skippedThrough)),
    catchUp: true,
  };
}

/** The newest hint of `kind` still in force at `at`. */
export function hintInForce<K extends GovernorHint['kind']>(
  hints: readonly GovernorHint[],
  kind: K,
  at: number,
): Extract<GovernorHint, { kind: K }> | null {
  const inForce = hints
    .filter((hint): hint is Extract<GovernorHint, { kind: K }> => hint.kind === kind)
    .filter((hint) => (instant(hint.expiresAt) ?? -Infinity) > at)
    .sort((a, b) => (instant(a.proposedAt) ?? 0) - (instant(b.proposedAt) ?? 0));
  return inForce.at(-1) ?? null;
}

export function noRun(reason: PlanReason, inputs: Record<string, unknown>): RunPlan {
  return { runAt: null, slot: null, reason, inputs };
}

/**
 * slot + a deterministic offset, within endAt, never before `from` (`at` by default: an overdue
 * run runs now).
 */
export function runAtFor(ctx: Context, slot: number, from = ctx.at): { runAt: number; offset: number } {
  const offset = jitterOffsetMs(ctx.endpoint.endpointId, new Date(slot), ctx.endpoint.jitterMs);
  const endAt = instant(ctx.endpoint.endAt) ?? Infinity;
  return { runAt: Math.max(Math.min(slot + offset, endAt, MAX_INSTANT), from), offset };
}

export function withJitter(ctx: Context, draft: Draft): RunPlan {
  const { runAt, offset } = runAtFor(ctx, draft.slot);
  const { jitterMs } = ctx.endpoint;
  const inputs = jitterMs > 0 ? { ...draft.inputs, jitterMs, jitterOffsetMs: offset } : draft.inputs;
  return { runAt: new Date(runAt), slot: new Date(draft.slot), reason: draft.reason, inputs };
}
