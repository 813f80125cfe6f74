import { RunStatus } from '@cronicorn/events';

// Simulated targets: pure functions of virtual time (ms since the scenario's start). Noise is
// a hash of the second, not a stream of random numbers, so every policy sees the same target
// at the same instant however often it calls.

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** What the target answers to a call started at `t`. */
export interface TargetResponse {
  status: RunStatus;
  httpStatus: number | null;
  latencyMs: number;
  body: unknown;
  retryAfterMs: number | null;
  error: string | null;
}

export interface Scenario {
  id: string;
  title: string;
  /** What the doc says the scenario models. */
  summary: string;
  /** The endpoint's description (its purpose): the planners read it. */
  description: string;
  durationMs: number;
  /** The target's state at `t`: the report times how long each policy takes to see a change. */
  state(t: number): string;
  /**
   * How bad each state is (0: calm). A change to a higher number is an onset (something
   * starts happening), to a lower one a settle (it is getting better); bands in the plots.
   */
  severity: Readonly<Record<string, number>>;
  respond(t: number): TargetResponse;
}

/** A uniform number in [0, 1) for (`seed`, the second of `t`). */
export function noise(seed: number, t: number): number {
  let h = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.floor(t / SECOND)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return ((h ^ (h >>> 16)) >>> 0) / 4_294_967_296;
}

/** mulberry32: a seeded sequence, for laying out phases once. */
function sequence(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const ok = (latencyMs: number, body: unknown): TargetResponse => ({
  status: 'success',
  httpStatus: 200,
  latencyMs: Math.round(latencyMs),
  body,
  retryAfterMs: null,
  error: null,
});

const failure = (
  httpStatus: number | null,
  latencyMs: number,
  body: unknown,
  error: string,
): TargetResponse => ({
  status: 'failed',
  httpStatus,
  latencyMs: Math.round(latencyMs),
  body,
  retryAfterMs: null,
  error,
});

//////////////////////////////////////// 1. Steady

const steady: Scenario = {
  id: 'steady',
  title: 'Steady healthy target',
  summary: 'A health endpoint that answers 200 in about 120 ms all day. Nothing happens.',
  description: 'Health check of the public API. Alert-worthy if it fails.',
  durationMs: 24 * HOUR,
  state: () => 'healthy',
  severity: { healthy: 0 },
  respond: (t) => ok(110 + 40 * noise(1, t), { status: 'ok' }),
};

//////////////////////////////////////// 2. Flapping

interface Phase {
  from: number;
  state: string;
}

function flappingPhases(): Phase[] {
  const next = sequence(2);
  const phases: Phase[] = [];
  let t = 0;
  let up = true;
  while (t < 24 * HOUR) {
    phases.push({ from: t, state: up ? 'up' : 'down' });
    t += up ? (10 + 80 * next()) * MINUTE : (2 + 10 * next()) * MINUTE;
    up = !up;
  }
  return phases;
}

function phaseAt(phases: readonly Phase[], t: number): Phase {
  let found = phases[0];
  for (const phase of phases) {
    if (phase.from > t) break;
    found = phase;
  }
  return found;
}

const FLAPPING = flappingPhases();

const flapping: Scenario = {
  id: 'flapping',
  title: 'Flapping target',
  summary:
    'Up for 10–90 min, then 502 Bad Gateway for 2–12 min, over and over (durations drawn once from a fixed seed).',
  description: 'Status endpoint of a service behind a flaky load balancer.',
  durationMs: 24 * HOUR,
  state: (t) => phaseAt(FLAPPING, t).state,
  severity: { up: 0, down: 1 },
  respond: (t) =>
    phaseAt(FLAPPING, t).state === 'up'
      ? ok(130 + 50 * noise(2, t), { status: 'ok' })
      : failure(502, 20 + 20 * noise(2, t), { error: 'bad gateway' }, 'HTTP 502'),
};

//////////////////////////////////////// 3. Outage then recovery

const OUTAGE_FROM = 9 * HOUR;
const OUTAGE_UNTIL = 11.5 * HOUR;

const outage: Scenario = {
  id: 'outage',
  title: 'Outage then recovery',
  summary: 'Healthy, then refuses connections for 2 h 30 min from 09:00 with no warning, then healthy again.',
  description: 'Health check of the billing service.',
  durationMs: 24 * HOUR,
  state: (t) => (t >= OUTAGE_FROM && t < OUTAGE_UNTIL ? 'down' : 'healthy'),
  severity: { healthy: 0, down: 1 },
  respond: (t) =>
    t >= OUTAGE_FROM && t < OUTAGE_UNTIL
      ? failure(null, 3 + 4 * noise(3, t), null, 'connect ECONNREFUSED')
      : ok(140 + 40 * noise(3, t), { status: 'ok' }),
};

//////////////////////////////////////// 4. Backlog that grows then drains

/** Episodes of [arrival start, arrival end, jobs arriving, drain rate per minute]. */
const BACKLOGS: readonly [number, number, number, number][] = [
  [6 * HOUR, 7 * HOUR, 9_000, 40],
  [18 * HOUR, 18 * HOUR + 20 * MINUTE, 1_500, 60],
];

/** Queue depth at `t`: jobs arrive evenly over the arrival window while workers drain at their rate. */
export function backlogDepth(t: number): number {
  let depth = 0;
  for (const [from, until, jobs, perMinute] of BACKLOGS) {
    if (t < from) continue;
    const arrived = jobs * Math.min(1, (t - from) / (until - from));
    const drained = (perMinute * (t - from)) / MINUTE;
    depth += Math.max(0, arrived - drained);
  }
  return Math.floor(depth);
}

function backlogState(t: number): string {
  if (backlogDepth(t) === 0) return 'idle';
  const arriving = BACKLOGS.some(([from, until, jobs, perMinute]) => {
    return t >= from && t < until && jobs / ((until - from) / MINUTE) > perMinute;
  });
  return arriving ? 'growing' : 'draining';
}

const backlog: Scenario = {
  id: 'backlog',
  title: 'Backlog that grows then drains',
  summary:
    'A worker status endpoint reporting `queue_depth`. At 06:00 a batch of 9,000 jobs arrives over an hour while 40/min are processed; it drains by about 09:45. At 18:00 a smaller batch (1,500 over 20 min, 60/min) drains by 18:25.',
  description:
    'Status of the import workers; the body reports queue_depth. We want to know when an import has finished.',
  durationMs: 24 * HOUR,
  state: backlogState,
  severity: { idle: 0, draining: 1, growing: 2 },
  respond: (t) => ok(80 + 30 * noise(4, t), { queue_depth: backlogDepth(t), workers: 4 }),
};

//////////////////////////////////////// 5. Daily traffic peak

/** Load 0..1 at `t`: a quiet night and a peak around 13:00. */
export function dailyLoad(t: number): number {
  const hour = (t / HOUR) % 24;
  return 0.15 + 0.8 * Math.exp(-(((hour - 13) / 2.5) ** 2));
}

function peakState(t: number): string {
  const load = dailyLoad(t);
  if (load >= 0.9) return 'throttled';
  return load >= 0.5 ? 'busy' : 'quiet';
}

const dailyPeak: Scenario = {
  id: 'daily-peak',
  title: 'Daily traffic peak',
  summary:
    'A partner API whose latency follows its traffic: about 90 ms at night, up to 800 ms around 13:00; at the very top (load ≥ 0.9, about 12:20–13:40) it answers 429 with `Retry-After: 120`.',
  description: 'Order sync with a rate-limited partner API. Be gentle with it when it is busy.',
  durationMs: 24 * HOUR,
  state: peakState,
  severity: { quiet: 0, busy: 1, throttled: 2 },
  respond: (t) => {
    const load = dailyLoad(t);
    const latencyMs = 80 + 750 * load ** 3 + 40 * noise(5, t);
    if (load >= 0.9) {
      return { ...failure(429, 15, { error: 'rate limited' }, 'HTTP 429'), retryAfterMs: 120_000 };
    }
    return ok(latencyMs, { status: 'ok', active_sessions: Math.round(2_000 * load) });
  },
};

export const SCENARIOS: readonly Scenario[] = [steady, flapping, outage, backlog, dailyPeak];
