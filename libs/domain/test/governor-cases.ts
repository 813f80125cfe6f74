import { EndpointSchedule } from '@cronicorn/events';
import { planNextRun } from '../src/schedule/governor';
import {
  GovernedEndpoint,
  GovernedStatus,
  GovernorHint,
  RunHistory,
  RunPlan,
} from '../src/schedule/governor.types';

// Random governor inputs for the property tests (libs/domain/src/schedule/*.properties.unit.spec.ts):
// a seeded generator, so a failure names the seed that reproduces it.

export const SECOND = 1_000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

//////////////////////////////////////// Seeded generator (mulberry32)

export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }

  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }

  maybe<T>(p: number, make: () => T): T | null {
    return this.chance(p) ? make() : null;
  }
}

//////////////////////////////////////// Inputs

const ZONES = [
  'UTC',
  'Europe/Berlin',
  'America/New_York',
  'Australia/Lord_Howe',
  'America/Havana',
  'Pacific/Chatham',
  'Asia/Kolkata',
];
const CRONS = [
  '0 9 * * *',
  '30 2 * * *',
  '*/5 * * * *',
  '0 * * * *',
  '15 1 * * 0',
  '0 0 1 * *',
  '0 */6 * * *',
  '45 0 * * 1-5',
  '*/20 * * * * *',
  '@daily',
];
/** Days with clock changes in the zones above (2025), and ordinary ones. */
const ANCHORS = [
  '2025-03-09T07:00:00.000Z',
  '2025-03-30T01:00:00.000Z',
  '2025-04-05T15:00:00.000Z',
  '2025-04-06T14:00:00.000Z',
  '2025-09-27T14:00:00.000Z',
  '2025-10-05T15:00:00.000Z',
  '2025-10-26T01:00:00.000Z',
  '2025-11-02T06:00:00.000Z',
  '2025-03-09T05:00:00.000Z',
  '2025-11-02T05:00:00.000Z',
  '2025-06-02T12:00:00.000Z',
  '2025-12-31T23:30:00.000Z',
].map(Date.parse);
const NICE = [SECOND, 30 * SECOND, MINUTE, 5 * MINUTE, 10 * MINUTE, HOUR, 2 * HOUR, 6 * HOUR, DAY];

export const iso = (ms: number): string => new Date(ms).toISOString();

export function duration(r: Random, max = 2 * DAY): number {
  return r.chance(0.6) ? Math.min(r.pick(NICE), max) : r.int(SECOND, max);
}

/** An instant near `now`, often on a whole minute or second (where cron times fall). */
function near(r: Random, now: number, before: number, after: number): number {
  const at = now + r.int(-before, after);
  const grain = r.pick([1, SECOND, MINUTE, 5 * MINUTE]);
  return Math.floor(at / grain) * grain;
}

function schedule(r: Random, now: number): EndpointSchedule {
  const kind = r.next();
  if (kind < 0.45) return { kind: 'cron', cron: r.pick(CRONS), timezone: r.pick(ZONES) };
  if (kind < 0.85) return { kind: 'interval', intervalMs: duration(r) };
  return { kind: 'once', runAt: iso(near(r, now, 2 * DAY, 2 * DAY)) };
}

function status(r: Random, now: number): GovernedStatus {
  const kind = r.next();
  if (kind < 0.85) return { kind: 'active' };
  if (kind < 0.95) return { kind: 'paused', until: iso(near(r, now, DAY, DAY)) };
  if (kind < 0.98) return { kind: 'paused', until: null };
  return { kind: 'archived' };
}

/** At most one hint of each kind (as the endpoint state keeps them), live or expired. */
function hints(r: Random, now: number): GovernorHint[] {
  const all: GovernorHint[] = [];
  const base = () => ({
    hintId: `h-${r.int(1, 1e6)}`,
    proposedAt: iso(near(r, now, DAY, 0)),
    source: r.pick(['ai', 'heuristic', 'api'] as const),
  });
  if (r.chance(0.3)) {
    all.push({
      ...base(),
      kind: 'interval',
      value: duration(r),
      expiresAt: iso(near(r, now, 2 * HOUR, DAY)),
    });
  }
  if (r.chance(0.25)) {
    const at = near(r, now, 2 * HOUR, DAY);
    all.push({ ...base(), kind: 'one_shot', value: iso(at), expiresAt: iso(at + r.int(1, 2 * HOUR)) });
  }
  if (r.chance(0.15)) {
    const until = near(r, now, HOUR, 2 * DAY);
    const expiresAt = r.chance(0.7) ? until : near(r, now, HOUR, 2 * DAY);
    all.push({ ...base(), kind: 'pause', value: iso(until), expiresAt: iso(expiresAt) });
  }
  return all;
}

function endpointFor(r: Random, now: number): GovernedEndpoint {
  const minIntervalMs = r.maybe(0.3, () => duration(r, 6 * HOUR));
  return {
    endpointId: `ep-${r.int(1, 1e6)}`,
    createdAt: iso(now - r.int(HOUR, 20 * DAY)),
    status: status(r, now),
    job: status(r, now),
    hints: hints(r, now),
    schedule: schedule(r, now),
    startAt: r.maybe(0.15, () => iso(near(r, now, 2 * DAY, 2 * DAY))),
    endAt: r.maybe(0.2, () => iso(near(r, now, HOUR, 3 * DAY))),
    maxRuns: r.maybe(0.15, () => r.int(1, 5)),
    minIntervalMs,
    // The API refuses a maxIntervalMs below minIntervalMs.
    maxIntervalMs: r.maybe(0.35, () => Math.max(minIntervalMs ?? 0, duration(r, DAY))),
    jitterMs: r.chance(0.3) ? r.int(1, 10 * MINUTE) : 0,
    catchUp: r.pick(['once', 'skip', 'all'] as const),
    overlap: r.pick(['skip', 'queue_one'] as const),
    pauseAfterFailures: r.maybe(0.15, () => r.int(1, 6)),
  };
}

function historyFor(r: Random, now: number, endpoint: GovernedEndpoint): RunHistory {
  const created = Date.parse(endpoint.createdAt);
  const scheduledFor = r.maybe(0.8, () => Math.max(near(r, now, 3 * DAY, 0), created));
  const lastRun =
    scheduledFor === null
      ? null
      : {
          scheduledFor: iso(scheduledFor),
          startedAt: r.chance(0.7) ? iso(Math.min(scheduledFor + r.int(0, 5 * SECOND), now)) : null,
        };
  const lastFinished =
    scheduledFor === null || !r.chance(0.6)
      ? null
      : {
          status: r.pick(['success', 'failed', 'timeout'] as const),
          httpStatus: r.pick([200, 500, 429, 503, 429, 503, null]),
          retryAfterMs: r.maybe(0.6, () => duration(r, 3 * HOUR)),
          finishedAt: iso(Math.min(scheduledFor + r.int(0, 2 * MINUTE), now)),
        };
  const skippedThrough = r.maybe(0.15, () => Math.max(near(r, now, 2 * DAY, 0), created));
  return {
    lastRun,
    lastFinished,
    consecutiveFailures: r.chance(0.5) ? 0 : r.int(1, 10),
    scheduledRuns: scheduledFor === null ? 0 : r.int(1, 6),
    skippedThrough: skippedThrough === null ? null : iso(skippedThrough),
    pendingPlan: null,
    inFlight: r.chance(0.3),
    queued: r.chance(0.1),
  };
}

//////////////////////////////////////// Cases

export interface GovernorCase {
  seed: number;
  now: number;
  endpoint: GovernedEndpoint;
  history: RunHistory;
}

export const planFor = (c: Pick<GovernorCase, 'now' | 'endpoint' | 'history'>): RunPlan =>
  planNextRun(new Date(c.now), c.endpoint, c.history);

/**
 * The case of one seed. A stored plan, when there is one, is what the governor planned at an
 * earlier instant from the same inputs: due, missed during downtime or still ahead.
 */
export function generateCase(seed: number): GovernorCase {
  const r = new Random(seed);
  const now = near(r, r.pick(ANCHORS), 36 * HOUR, 36 * HOUR);
  const endpoint = endpointFor(r, now);
  const history = historyFor(r, now, endpoint);
  if (r.chance(0.4)) {
    const stored = planFor({ now: near(r, now, r.pick([MINUTE, HOUR, DAY]), 0), endpoint, history });
    if (stored.runAt && stored.slot && !stored.skipped && !stored.catchUpRuns) {
      history.pendingPlan = { runAt: stored.runAt.toISOString(), slot: stored.slot.toISOString() };
    }
  }
  return { seed, now, endpoint, history };
}

export function withEndpoint(c: GovernorCase, overrides: Partial<GovernedEndpoint>): GovernorCase {
  return { ...c, endpoint: { ...c.endpoint, ...overrides } };
}

export function withHistory(c: GovernorCase, overrides: Partial<RunHistory>): GovernorCase {
  return { ...c, history: { ...c.history, ...overrides } };
}

/** The plan as JSON-ready values, to compare and to show. */
export function planSummary(plan: RunPlan) {
  return {
    runAt: plan.runAt?.toISOString() ?? null,
    slot: plan.slot?.toISOString() ?? null,
    reason: plan.reason,
    inputs: plan.inputs,
    skipped: plan.skipped,
    catchUpRuns: plan.catchUpRuns?.map((date) => date.toISOString()),
    pauseForFailures: plan.pauseForFailures,
  };
}

/**
 * `count` cases from `seedBase` with their plans, made once per spec file, and a runner that
 * checks a property on each: the first failure names its seed, inputs and plan.
 */
export function governorCases(seedBase: number, count: number) {
  const cases = Array.from({ length: count }, (_, i) => {
    const c = generateCase(seedBase + i);
    return { c, plan: planFor(c) };
  });
  return (check: (c: GovernorCase, plan: RunPlan) => void): void => {
    for (const { c, plan } of cases) {
      try {
        check(c, plan);
      } catch (error) {
        const shown = { now: iso(c.now), endpoint: c.endpoint, history: c.history, plan: planSummary(plan) };
        const message = error instanceof Error ? error.message : String(error);
        throw new Error(`seed ${c.seed}: ${message}\n${JSON.stringify(shown, null, 2)}`);
      }
    }
  };
}
