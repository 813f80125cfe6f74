import type { Pool } from 'pg';
import {
  compareCalls,
  LOST_OUTCOMES,
  NextPlan,
  PlannedRun,
  planOutcome,
  PlanOutcome,
  percentiles,
  Percentiles,
  RunFate,
} from './stats';

// Results computed from the event log of the bench's own database (the truth) and the
// target's call counts. Everything here reads; nothing writes.

export interface Window {
  fromMs: number;
  toMs: number;
}

export interface RunResults {
  /** Scheduled runs started (first delivery) inside the window, per second. */
  runsPerSecond: number;
  /** `endpoints × 1000 / intervalMs`: what zero lateness would give. */
  idealRunsPerSecond: number;
  runsFinishedPerSecond: number;
  /** `RunStarted.lateMs` (= startedAt − scheduledFor) of scheduled runs due inside the window. */
  latenessMs: Percentiles;
  /**
   * startedAt − the governor's slot (`NextRunPlanned.inputs.slot`): for an interval, the
   * previous start + interval. Larger than `latenessMs` when the scheduler learnt of the
   * previous start so late that the slot had passed and it planned the run for "now".
   */
  latenessVsSlotMs: Percentiles;
  /**
   * Time between consecutive scheduled starts of one endpoint inside the window: ideally the
   * interval plus the lateness; a skipped or lost slot shows as a gap of two intervals or more.
   */
  startGapMs: Percentiles;
  /** Run outcomes by status, for runs started inside the window. */
  statuses: Record<string, number>;
  /** Planned runs due in [from, to − lostAfterMs] and what became of them. */
  plans: { eligible: number; outcomes: Record<PlanOutcome, number>; lost: number };
  duplicates: {
    total: number;
    /** Runs with more than one `RunFinished` (must never happen). */
    finishedTwice: number;
    /** Runs with more than one `RunStarted` (a delivery taken over: the target may be called twice). */
    startedTwice: number;
    /** Calls the target received beyond the `RunStarted` events of their endpoint. */
    extraTargetCalls: number;
    /** `RunStarted` events the target has no call for (a call that never arrived). */
    startsWithoutCall: number;
  };
  /** Events appended inside the window, per second, and by type. */
  eventsPerSecond: number;
  eventsByType: Record<string, number>;
  /** Totals over the whole run (creation, warm-up, window, drain). */
  totals: { events: number; runsStarted: number; runsFinished: number; targetCalls: number };
  /** Where lateness comes from, from the scheduler's own table (null when it cannot be read). */
  latenessBreakdownMs: {
    /** Plan due → the scheduler's fire transaction (`dispatched_at`). */
    fire: Percentiles;
    /** Fire → `RunStarted.startedAt` in the dispatcher: the publish, the queue and the pickup. */
    handOff: Percentiles;
  } | null;
}

interface StartRow {
  run_id: string;
  endpoint_id: string;
  scheduled_for: string;
  started_at: string;
  late_ms: number;
  attempt: number;
  trigger: string;
}

const ms = (iso: string | Date) => (iso instanceof Date ? iso.getTime() : Date.parse(iso));
const inWindow = (t: number, w: Window) => t >= w.fromMs && t < w.toMs;

export async function analyse(
  pool: Pool,
  window: Window,
  options: {
    endpoints: number;
    intervalMs: number;
    lostAfterMs: number;
    /** Target calls per endpoint id. */
    targetCalls: ReadonlyMap<string, number>;
  },
): Promise<RunResults> {
  const seconds = (window.toMs - window.fromMs) / 1000;

  const { rows: starts } = await pool.query<StartRow>(
    `SELECT data->>'runId' AS run_id, data->>'endpointId' AS endpoint_id, data->>'scheduledFor' AS scheduled_for,
            data->>'startedAt' AS started_at, (data->>'lateMs')::bigint::float8 AS late_ms,
            (data->>'attempt')::int AS attempt, data->>'trigger' AS trigger
       FROM events WHERE type = 'RunStarted'`,
  );
  const { rows: finishes } = await pool.query<{ run_id: string; status: string; finished_at: string }>(
    `SELECT data->>'runId' AS run_id, data->>'status' AS status, data->>'finishedAt' AS finished_at
       FROM events WHERE type = 'RunFinished'`,
  );
  const { rows: plans } = await pool.query<{
    position: string;
    run_id: string;
    endpoint_id: string;
    run_at: string;
    planned_at: string;
    slot: string | null;
  }>(
    `SELECT position::text AS position, data->>'runId' AS run_id, data->>'endpointId' AS endpoint_id,
            data->>'runAt' AS run_at, data->>'plannedAt' AS planned_at, data->'inputs'->>'slot' AS slot
       FROM events e WHERE type = 'NextRunPlanned' ORDER BY e.position`,
  );
  const { rows: fates } = await pool.query<{ type: string; run_id: string }>(
    `SELECT type, data->>'runId' AS run_id FROM events
      WHERE type IN ('RunSkipped', 'RunMissed') AND data->>'runId' IS NOT NULL`,
  );
  const { rows: byType } = await pool.query<{ type: string; n: string }>(
    `SELECT type, count(*)::text AS n FROM events
      WHERE occurred_at >= $1 AND occurred_at < $2 GROUP BY type ORDER BY type`,
    [new Date(window.fromMs), new Date(window.toMs)],
  );
  const { rows: totalRows } = await pool.query<{ n: string }>('SELECT count(*)::text AS n FROM events');

  // Runs, lateness, statuses.
  const firstStart = new Map<string, StartRow>();
  const startCount = new Map<string, number>();
  const startsByEndpoint = new Map<string, number>();
  for (const row of starts) {
    startCount.set(row.run_id, (startCount.get(row.run_id) ?? 0) + 1);
    startsByEndpoint.set(row.endpoint_id, (startsByEndpoint.get(row.endpoint_id) ?? 0) + 1);
    const seen = firstStart.get(row.run_id);
    if (!seen || row.attempt < seen.attempt) firstStart.set(row.run_id, row);
  }
  const scheduled = [...firstStart.values()].filter((row) => row.trigger === 'schedule');
  const lateness = scheduled
    .filter((row) => inWindow(ms(row.scheduled_for), window))
    .map((row) => row.late_ms);
  const startedInWindow = scheduled.filter((row) => inWindow(ms(row.started_at), window));

  const startsOf = new Map<string, number[]>();
  for (const row of startedInWindow) {
    const list = startsOf.get(row.endpoint_id) ?? [];
    list.push(ms(row.started_at));
    startsOf.set(row.endpoint_id, list);
  }
  const gaps: number[] = [];
  for (const list of startsOf.values()) {
    list.sort((a, b) => a - b);
    for (let i = 1; i < list.length; i++) gaps.push(list[i] - list[i - 1]);
  }

  const finishCount = new Map<string, number>();
  const statusOf = new Map<string, string>();
  let finishedInWindow = 0;
  for (const row of finishes) {
    finishCount.set(row.run_id, (finishCount.get(row.run_id) ?? 0) + 1);
    statusOf.set(row.run_id, row.status);
    if (inWindow(ms(row.finished_at), window)) finishedInWindow += 1;
  }
  const statuses: Record<string, number> = {};
  for (const row of startedInWindow) {
    const status = statusOf.get(row.run_id) ?? 'unfinished';
    statuses[status] = (statuses[status] ?? 0) + 1;
  }

  // Plans and what became of them.
  const lastPlan = new Map<string, PlannedRun>();
  const slotOf = new Map<string, number>();
  const plansByEndpoint = new Map<string, NextPlan[]>();
  for (const row of plans) {
    const position = BigInt(row.position);
    lastPlan.set(row.run_id, {
      runId: row.run_id,
      endpointId: row.endpoint_id,
      runAtMs: ms(row.run_at),
      position,
    });
    if (row.slot) slotOf.set(row.run_id, ms(row.slot));
    const list = plansByEndpoint.get(row.endpoint_id) ?? [];
    list.push({ runId: row.run_id, plannedAtMs: ms(row.planned_at), position });
    plansByEndpoint.set(row.endpoint_id, list);
  }
  const slotLateness: number[] = [];
  for (const row of scheduled) {
    const slot = slotOf.get(row.run_id);
    if (slot !== undefined && inWindow(ms(row.scheduled_for), window))
      slotLateness.push(ms(row.started_at) - slot);
  }
  const fateOf = new Map<string, RunFate>();
  const fate = (runId: string) => {
    let value = fateOf.get(runId);
    if (!value) {
      value = { startedAtMs: null, skipped: false, missed: false };
      fateOf.set(runId, value);
    }
    return value;
  };
  for (const row of firstStart.values()) fate(row.run_id).startedAtMs = ms(row.started_at);
  for (const row of fates) {
    if (row.type === 'RunSkipped') fate(row.run_id).skipped = true;
    else fate(row.run_id).missed = true;
  }
  const outcomes: Record<PlanOutcome, number> = {
    on_time: 0,
    started_late: 0,
    never_started: 0,
    missed: 0,
    skipped: 0,
    superseded: 0,
    replanned_after_due: 0,
  };
  let eligible = 0;
  for (const plan of lastPlan.values()) {
    if (plan.runAtMs < window.fromMs || plan.runAtMs >= window.toMs - options.lostAfterMs) continue;
    eligible += 1;
    const later = (plansByEndpoint.get(plan.endpointId) ?? []).filter(
      (next) => next.position > plan.position,
    );
    outcomes[planOutcome(plan, fateOf.get(plan.runId), later, options.lostAfterMs)] += 1;
  }
  const lost = LOST_OUTCOMES.reduce((sum, outcome) => sum + outcomes[outcome], 0);

  // Duplicates.
  const finishedTwice = [...finishCount.values()].filter((n) => n > 1).length;
  const startedTwice = [...startCount.values()].filter((n) => n > 1).length;
  const { extraCalls, unseenStarts } = compareCalls(options.targetCalls, startsByEndpoint);

  const eventsByType = Object.fromEntries(byType.map((row) => [row.type, Number(row.n)]));
  const windowEvents = byType.reduce((sum, row) => sum + Number(row.n), 0);
  const round = (value: number) => Math.round(value * 10) / 10;

  return {
    runsPerSecond: round(startedInWindow.length / seconds),
    idealRunsPerSecond: round((options.endpoints * 1000) / options.intervalMs),
    runsFinishedPerSecond: round(finishedInWindow / seconds),
    latenessMs: percentiles(lateness),
    latenessVsSlotMs: percentiles(slotLateness),
    startGapMs: percentiles(gaps),
    statuses,
    plans: { eligible, outcomes, lost },
    duplicates: {
      total: finishedTwice + startedTwice + extraCalls,
      finishedTwice,
      startedTwice,
      extraTargetCalls: extraCalls,
      startsWithoutCall: unseenStarts,
    },
    eventsPerSecond: round(windowEvents / seconds),
    eventsByType,
    totals: {
      events: Number(totalRows[0]?.n ?? 0),
      runsStarted: firstStart.size,
      runsFinished: finishCount.size,
      targetCalls: [...options.targetCalls.values()].reduce((sum, n) => sum + n, 0),
    },
    latenessBreakdownMs: await latenessBreakdown(pool, window, firstStart),
  };
}

/**
 * Splits the lateness of scheduled runs due in the window with the scheduler's `scheduler_runs`
 * table (an internal table: when its shape changes this gives null, not a failed bench).
 */
async function latenessBreakdown(
  pool: Pool,
  window: Window,
  firstStart: ReadonlyMap<string, StartRow>,
): Promise<RunResults['latenessBreakdownMs']> {
  try {
    const { rows } = await pool.query<{ run_id: string; scheduled_for: Date; dispatched_at: Date | null }>(
      `SELECT run_id::text AS run_id, scheduled_for, dispatched_at
         FROM scheduler_runs
        WHERE trigger = 'schedule' AND scheduled_for >= $1 AND scheduled_for < $2`,
      [new Date(window.fromMs), new Date(window.toMs)],
    );
    const fire: number[] = [];
    const handOff: number[] = [];
    for (const row of rows) {
      if (!row.dispatched_at) continue;
      fire.push(row.dispatched_at.getTime() - row.scheduled_for.getTime());
      const start = firstStart.get(row.run_id);
      if (start) handOff.push(ms(start.started_at) - row.dispatched_at.getTime());
    }
    return { fire: percentiles(fire), handOff: percentiles(handOff) };
  } catch {
    return null;
  }
}

interface NewestEvent {
  position: string;
  stream_id: string;
  stream_version: number;
  occurred_at: Date;
}

/** Where a lag probe looks: which events it follows and when one counts as arrived. */
export interface LagTarget {
  name: string;
  /** Event types the stage handles (null: every event). */
  types: readonly string[] | null;
  applied(pool: Pool, event: NewestEvent): Promise<boolean>;
}

/** An event consumer of the messaging lib: it records each stream version it handled. */
export function consumerLag(
  name: string,
  consumer: string,
  types: readonly string[] | null = null,
): LagTarget {
  return {
    name,
    types,
    applied: async (pool, event) => {
      const { rows } = await pool.query<{ version: number }>(
        'SELECT version FROM consumer_stream_versions WHERE consumer = $1 AND stream_id = $2',
        [consumer, event.stream_id],
      );
      return (rows[0]?.version ?? 0) >= event.stream_version;
    },
  };
}

/** A reader of the commit-ordered log whose checkpoint row (`table`.`key` = `name`) has passed the event. */
function checkpointLag(
  stage: string,
  table: 'relay_checkpoints' | 'consumer_checkpoints',
  key: 'name' | 'consumer',
  name: string,
): LagTarget {
  return {
    name: stage,
    types: null,
    applied: async (pool, event) => {
      const { rows } = await pool.query<{ done: boolean }>(
        `SELECT EXISTS (
           SELECT 1 FROM ${table} c JOIN events e ON e.position = $1::bigint
            WHERE c.${key} = $2 AND (e.transaction_id::text::bigint, e.position) <= (c.transaction_id, c.position)
         ) AS done`,
        [event.position, name],
      );
      return rows[0]?.done ?? false;
    },
  };
}

/** The outbox relay. */
export const relayLag: LagTarget = checkpointLag('relay', 'relay_checkpoints', 'name', 'nats');

/** A log tail (the projector's, say): its checkpoint in `consumer_checkpoints`. */
export const tailLag = (stage: string, consumer: string): LagTarget =>
  checkpointLag(stage, 'consumer_checkpoints', 'consumer', consumer);

/** One lag sample: when the bench saw the probed event committed, and what it measured. */
interface LagSample {
  seenAtMs: number;
  lagMs: number;
  /** Seen committed − `occurredAt`: how long the append took to commit. */
  appendDelayMs: number;
}

/** The lag samples of a window, the probes of it that gave up, and those still waiting at the end. */
export type LagReport = Percentiles & { timeouts: number; unfinished: number };

/**
 * Samples how long an event takes to reach a stage (relay, scheduler fold, projector): every
 * second it takes the newest event the stage handles and polls until the stage has it; the
 * sample is the time from when the bench saw the event committed until the stage had it.
 * At most three probes are outstanding; one that waits longer than `giveUpMs` is a timeout.
 * Samples belong to the instant their event was seen, so a window's report leaves out those of
 * the warm-up and the drain but keeps a probe of the window that the stage answers after it.
 */
export class LagProbe {
  private readonly samples: LagSample[] = [];
  private readonly timeoutsSeenAtMs: number[] = [];
  /** Probes still waiting for the stage; those left when it stops are unfinished. */
  private readonly waiting = new Set<{ seenAtMs: number }>();
  latestMs: number | null = null;
  private outstanding = 0;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly pool: Pool,
    readonly target: LagTarget,
    private readonly pollMs = 50,
    private readonly giveUpMs = 60_000,
  ) {}

  start(everyMs = 1_000): void {
    this.timer = setInterval(() => {
      if (this.outstanding < 3) void this.probe();
    }, everyMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
  }

  /** Probes of events seen in [fromMs, toMs); `unfinished`: still waiting when the probe stopped. */
  report(fromMs: number, toMs: number): LagReport {
    const inWindow = (seenAtMs: number) => seenAtMs >= fromMs && seenAtMs < toMs;
    return {
      ...percentiles(this.samples.filter((s) => inWindow(s.seenAtMs)).map((s) => s.lagMs)),
      timeouts: this.timeoutsSeenAtMs.filter(inWindow).length,
      unfinished: [...this.waiting].filter((probe) => inWindow(probe.seenAtMs)).length,
    };
  }

  /** `occurredAt` → seen committed of the events probed in [fromMs, toMs). */
  appendDelays(fromMs: number, toMs: number): Percentiles {
    return percentiles(
      this.samples.filter((s) => s.seenAtMs >= fromMs && s.seenAtMs < toMs).map((s) => s.appendDelayMs),
    );
  }

  private async newest(): Promise<NewestEvent | undefined> {
    const { types } = this.target;
    const { rows } = await this.pool.query<NewestEvent>(
      `SELECT position::text AS position, stream_id, stream_version, occurred_at FROM events e
        ${types ? 'WHERE type = ANY($1::text[])' : ''} ORDER BY e.position DESC LIMIT 1`,
      types ? [types] : [],
    );
    return rows[0];
  }

  private async probe(): Promise<void> {
    this.outstanding += 1;
    const waiting = { seenAtMs: 0 };
    try {
      const event = await this.newest();
      // Measured from when the event was seen committed: `occurredAt` is the appender's clock
      // before its transaction, which a busy appender can make seconds older than the commit.
      waiting.seenAtMs = Date.now();
      if (!event) return;
      this.waiting.add(waiting);
      const deadline = waiting.seenAtMs + this.giveUpMs;
      while (!this.stopped) {
        if (await this.target.applied(this.pool, event)) {
          const lagMs = Date.now() - waiting.seenAtMs;
          const appendDelayMs = Math.max(0, waiting.seenAtMs - event.occurred_at.getTime());
          this.samples.push({ seenAtMs: waiting.seenAtMs, lagMs, appendDelayMs });
          this.latestMs = lagMs;
          this.waiting.delete(waiting);
          return;
        }
        if (Date.now() > deadline) {
          this.timeoutsSeenAtMs.push(waiting.seenAtMs);
          this.waiting.delete(waiting);
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, this.pollMs));
      }
    } catch {
      // a failed probe is no sample; the next one tries again
      this.waiting.delete(waiting);
    } finally {
      this.outstanding -= 1;
    }
  }

  /** True when the stage has the newest event it handles. */
  async caughtUp(): Promise<boolean> {
    const event = await this.newest();
    return event ? this.target.applied(this.pool, event) : true;
  }
}
