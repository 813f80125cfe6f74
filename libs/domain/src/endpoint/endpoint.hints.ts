import { EndpointConfig, HintKind, HintSource } from '@cronicorn/events';
import { instant, reasonError } from '../core/validation';
import { cadenceOf, periodMs } from '../schedule/cadence';
import { ENDPOINT_LIMITS } from './endpoint.config';

// The rules every hint passes, whoever proposes it: a user's `POST /v1/endpoints/:id/hints`,
// the AI planner's tool calls and the heuristic planner. The decider applies them when it
// records `AIHintProposed`; the ai-planner may call `validateHint` first to explain a refusal
// to the model without catching errors.

const MINUTE = 60_000;

export const HINT_LIMITS = {
  /** Longest life of any hint, and furthest future of a one-shot or pause. */
  maxTtlMs: 7 * 24 * 60 * MINUTE,
  /** Life of an interval hint without ttlMinutes/expiresAt, and a one-shot's grace after its time. */
  defaultTtlMs: 60 * MINUTE,
  /** `AI_MAX_PAUSE_MS` when the adapter passes none (DESIGN §5 rule 8). */
  defaultAiMaxPauseMs: 24 * 60 * MINUTE,
} as const;

/**
 * A proposed hint before validation. `value` is an interval in ms (`interval`) or an ISO
 * instant (`one_shot`: run at; `pause`: paused until). Give `ttlMinutes` or `expiresAt`, or
 * neither for the default life; a pause always expires at its own end.
 */
export interface HintProposal {
  kind: HintKind;
  value: number | string;
  ttlMinutes?: number;
  expiresAt?: string;
  reason: string;
  source: HintSource;
  /** `AI_MAX_PAUSE_MS`: longest pause (and, without maxIntervalMs, interval) from `ai` or `heuristic`. */
  aiMaxPauseMs?: number;
}

/** A hint that passed the rules, with its value clamped and instants normalised to UTC. */
export interface AcceptedHint {
  kind: HintKind;
  value: number | string;
  /** The proposed value when clamping changed it, else null. */
  requested: number | string | null;
  expiresAt: string;
  reason: string;
}

export type HintRejectionCode =
  | 'HINT.INVALID_VALUE'
  | 'HINT.IN_PAST'
  | 'HINT.TOO_FAR'
  | 'HINT.INVALID_TTL'
  | 'HINT.EXPIRES_BEFORE_RUN'
  | 'HINT.INVALID_REASON';

export type HintDecision =
  | { outcome: 'accepted'; hint: AcceptedHint; clampedFrom: number | string | null }
  | { outcome: 'rejected'; code: HintRejectionCode; field: string; reason: string };

const reject = (code: HintRejectionCode, field: string, reason: string): HintDecision => ({
  outcome: 'rejected',
  code,
  field,
  reason,
});

/** Validates and clamps a hint against the endpoint's bounds at `now`. Pure. */
export function validateHint(config: EndpointConfig, proposal: HintProposal, now: Date): HintDecision {
  const reasonProblem =
    typeof proposal.reason === 'string' ? reasonError(proposal.reason) : 'must be a string';
  if (reasonProblem) return reject('HINT.INVALID_REASON', 'reason', reasonProblem);

  const machine = proposal.source === 'ai' || proposal.source === 'heuristic';
  const aiMaxPauseMs =
    proposal.aiMaxPauseMs !== undefined && proposal.aiMaxPauseMs > 0
      ? proposal.aiMaxPauseMs
      : HINT_LIMITS.defaultAiMaxPauseMs;
  const latest = now.getTime() + HINT_LIMITS.maxTtlMs;

  switch (proposal.kind) {
    case 'interval': {
      const requested = proposal.value;
      if (typeof requested !== 'number' || !Number.isFinite(requested) || requested <= 0) {
        return reject('HINT.INVALID_VALUE', 'value', 'must be a positive number of milliseconds');
      }
      const expiry = ttlExpiry(proposal, now, now.getTime() + HINT_LIMITS.defaultTtlMs);
      if ('outcome' in expiry) return expiry;
      const floor = Math.max(ENDPOINT_LIMITS.minIntervalMs, config.minIntervalMs ?? 0);
      // Without a user bound, a machine's interval is held to the pause cap: a week-long
      // interval would be a pause in all but name. Neither cap makes the schedule itself run
      // more often (a daily cron with a 2 h max stays daily), as in the governor.
      const ceiling = Math.max(
        floor,
        config.maxIntervalMs ?? (machine ? aiMaxPauseMs : ENDPOINT_LIMITS.longestIntervalMs),
        schedulePeriodMs(config, now),
      );
      const value = Math.min(Math.max(Math.round(requested), floor), ceiling);
      return accepted(proposal, value, value === requested ? null : requested, expiry.expiresAt);
    }
    case 'one_shot': {
      const at = instantValue(proposal.value);
      if (!at) return reject('HINT.INVALID_VALUE', 'value', 'must be an ISO 8601 instant with an offset');
      if (at.getTime() <= now.getTime()) return reject('HINT.IN_PAST', 'value', 'must be in the future');
      if (at.getTime() >= latest) return reject('HINT.TOO_FAR', 'value', 'must be within 7 days');
      const expiry = ttlExpiry(proposal, now, Math.min(at.getTime() + HINT_LIMITS.defaultTtlMs, latest));
      if ('outcome' in expiry) return expiry;
      if (new Date(expiry.expiresAt).getTime() <= at.getTime()) {
        const field = proposal.expiresAt !== undefined ? 'expiresAt' : 'ttlMinutes';
        return reject('HINT.EXPIRES_BEFORE_RUN', field, 'the hint would expire before its run time');
      }
      return accepted(proposal, at.toISOString(), null, expiry.expiresAt);
    }
    case 'pause': {
      const until = instantValue(proposal.value);
      if (!until) return reject('HINT.INVALID_VALUE', 'value', 'must be an ISO 8601 instant with an offset');
      if (until.getTime() <= now.getTime()) return reject('HINT.IN_PAST', 'value', 'must be in the future');
      const cap =
        now.getTime() + (machine ? Math.min(aiMaxPauseMs, HINT_LIMITS.maxTtlMs) : HINT_LIMITS.maxTtlMs);
      const value = new Date(Math.min(until.getTime(), cap)).toISOString();
      const clamped = until.getTime() > cap;
      return accepted(proposal, value, clamped ? proposal.value : null, value);
    }
    default:
      return reject('HINT.INVALID_VALUE', 'kind', 'must be interval, one_shot or pause');
  }
}

/** The length of the schedule's period that starts now; 0 for a one-time run. */
function schedulePeriodMs({ schedule }: EndpointConfig, now: Date): number {
  try {
    return periodMs(cadenceOf(schedule), now.getTime()) ?? 0;
  } catch {
    return 0; // a cron with no time left to fire: the caps alone
  }
}

function accepted(
  proposal: HintProposal,
  value: number | string,
  requested: number | string | null,
  expiresAt: string,
): HintDecision {
  return {
    outcome: 'accepted',
    hint: { kind: proposal.kind, value, requested, expiresAt, reason: proposal.reason },
    clampedFrom: requested,
  };
}

/** When a hint expires given ttlMinutes or expiresAt; a life beyond 7 days is shortened to 7 days. */
function ttlExpiry(
  proposal: HintProposal,
  now: Date,
  fallback: number,
): { expiresAt: string } | HintDecision {
  const { ttlMinutes, expiresAt } = proposal;
  if (ttlMinutes !== undefined && expiresAt !== undefined) {
    return reject('HINT.INVALID_TTL', 'ttlMinutes', 'give ttlMinutes or expiresAt, not both');
  }
  let end = fallback;
  if (ttlMinutes !== undefined) {
    if (typeof ttlMinutes !== 'number' || !Number.isFinite(ttlMinutes) || ttlMinutes <= 0) {
      return reject('HINT.INVALID_TTL', 'ttlMinutes', 'must be a positive number of minutes');
    }
    end = now.getTime() + ttlMinutes * MINUTE;
  } else if (expiresAt !== undefined) {
    const at = instantValue(expiresAt);
    if (!at) return reject('HINT.INVALID_TTL', 'expiresAt', 'must be an ISO 8601 instant with an offset');
    if (at.getTime() <= now.getTime())
      return reject('HINT.INVALID_TTL', 'expiresAt', 'must be in the future');
    end = at.getTime();
  }
  return { expiresAt: new Date(Math.min(end, now.getTime() + HINT_LIMITS.maxTtlMs)).toISOString() };
}

function instantValue(value: unknown): Date | undefined {
  return typeof value === 'string' ? (instant(value) ?? undefined) : undefined;
}
