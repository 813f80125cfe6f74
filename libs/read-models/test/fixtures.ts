import { randomUUID } from 'node:crypto';
import {
  AIAnalysisCompleted,
  AIAnalysisFailed,
  AIHintProposed,
  EndpointConfig,
  Event,
  EventEnvelope,
  HintKind,
  NextRunPlanned,
  RunFinished,
  RunMissed,
  RunSkipped,
  RunStarted,
  RunStatus,
  RunTrigger,
  streamIds,
} from '@cronicorn/events';
import { PostgresEventStore } from '@cronicorn/event-store';
import { withTransaction } from '@cronicorn/platform';
import type { Pool } from 'pg';
import { projectToReadModels, READ_MODEL_TABLES } from '../src';

/** A fixed reference instant: tests never read the clock for business time. */
export const T0 = Date.parse('2026-03-02T10:00:00.000Z');
export const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();

export const newId = (prefix: string) => `${prefix}-${randomUUID()}`;

export function endpointConfig(overrides: Partial<EndpointConfig> = {}): EndpointConfig {
  return {
    name: 'ping',
    description: 'checks the target',
    url: 'https://example.com/ping',
    method: 'GET',
    headers: { accept: 'application/json' },
    secretHeaders: { authorization: 'enc:v1:c2VjcmV0', 'x-token': 'enc:v1:dG9rZW4' },
    body: null,
    timeoutMs: 10_000,
    schedule: { kind: 'interval', intervalMs: 60_000 },
    startAt: null,
    endAt: null,
    maxRuns: null,
    minIntervalMs: null,
    maxIntervalMs: null,
    maxAttempts: 1,
    jitterMs: 0,
    catchUp: 'once',
    overlap: 'skip',
    pauseAfterFailures: null,
    triggers: [],
    ...overrides,
  };
}

export interface RunSpec {
  status: RunStatus;
  /** Minutes after T0 when the run started. */
  startedAtMin: number;
  durationMs?: number;
  lateMs?: number;
  trigger?: RunTrigger;
  httpStatus?: number | null;
  retryOf?: string | null;
}

/** Appends events through the real store and applies them to the read models. */
export class History {
  readonly store: PostgresEventStore;

  constructor(readonly pool: Pool) {
    this.store = new PostgresEventStore(pool);
  }

  /** Appends to one stream (any expected version) without projecting. */
  async append(tenantId: string, streamId: string, ...events: Event[]): Promise<EventEnvelope[]> {
    const result = await this.store.append(streamId, events, {
      expectedVersion: 'any',
      metadata: { tenantId, actor: 'test' },
    });
    return result.envelopes;
  }

  /** Applies each envelope in its own transaction; returns whether each changed anything. */
  async project(envelopes: readonly EventEnvelope[]): Promise<boolean[]> {
    const applied: boolean[] = [];
    for (const envelope of envelopes) {
      applied.push(await withTransaction(this.pool, (client) => projectToReadModels(envelope, client)));
    }
    return applied;
  }

  /** `given`: appended and projected. */
  async given(tenantId: string, streamId: string, ...events: Event[]): Promise<EventEnvelope[]> {
    const envelopes = await this.append(tenantId, streamId, ...events);
    await this.project(envelopes);
    return envelopes;
  }

  tenant(): TenantHistory {
    return new TenantHistory(this, newId('tenant'));
  }
}

/** Builders for one tenant's facts, each appended to its own stream and projected. */
export class TenantHistory {
  constructor(
    readonly history: History,
    readonly tenantId: string,
  ) {}

  async job(name = 'nightly', minutes = 0): Promise<string> {
    const jobId = newId('job');
    await this.history.given(this.tenantId, streamIds.job(jobId), {
      type: 'JobCreated',
      data: { jobId, name, description: null, createdAt: at(minutes) },
    });
    return jobId;
  }

  async endpoint(jobId: string, config: Partial<EndpointConfig> = {}, minutes = 0): Promise<string> {
    const endpointId = newId('endpoint');
    await this.history.given(
      this.tenantId,
      streamIds.endpoint(endpointId),
      endpointCreated(endpointId, jobId, config, minutes),
    );
    return endpointId;
  }

  endpointEvent(endpointId: string, ...events: Event[]): Promise<EventEnvelope[]> {
    return this.history.given(this.tenantId, streamIds.endpoint(endpointId), ...events);
  }

  jobEvent(jobId: string, ...events: Event[]): Promise<EventEnvelope[]> {
    return this.history.given(this.tenantId, streamIds.job(jobId), ...events);
  }

  scheduleEvent(endpointId: string, ...events: Event[]): Promise<EventEnvelope[]> {
    return this.history.given(this.tenantId, streamIds.schedule(endpointId), ...events);
  }

  plannerEvent(endpointId: string, ...events: Event[]): Promise<EventEnvelope[]> {
    return this.history.given(this.tenantId, streamIds.planner(endpointId), ...events);
  }

  /** A whole run: RunStarted then RunFinished on `run-<id>`. Returns the run id. */
  async run(endpointId: string, jobId: string, spec: RunSpec): Promise<string> {
    const runId = newId('run');
    const [started, finished] = runEvents(runId, endpointId, jobId, spec);
    await this.history.given(this.tenantId, streamIds.run(runId), started, finished);
    return runId;
  }
}

export function endpointCreated(
  endpointId: string,
  jobId: string,
  config: Partial<EndpointConfig> = {},
  minutes = 0,
): Event {
  return {
    type: 'EndpointCreated',
    data: { endpointId, jobId, config: endpointConfig(config), createdAt: at(minutes) },
  };
}

export function runEvents(
  runId: string,
  endpointId: string,
  jobId: string,
  spec: RunSpec,
): [RunStarted, RunFinished] {
  const lateMs = spec.lateMs ?? 0;
  const startedAt = at(spec.startedAtMin);
  const scheduledFor = new Date(Date.parse(startedAt) - lateMs).toISOString();
  const durationMs = spec.durationMs ?? 100;
  const trigger = spec.trigger ?? 'schedule';
  const retryOf = spec.retryOf ?? null;
  const started: RunStarted = {
    type: 'RunStarted',
    data: { runId, endpointId, jobId, scheduledFor, startedAt, lateMs, attempt: 1, trigger, retryOf },
  };
  const finished: RunFinished = {
    type: 'RunFinished',
    data: {
      runId,
      endpointId,
      jobId,
      status: spec.status,
      httpStatus: spec.httpStatus === undefined ? (spec.status === 'success' ? 200 : 500) : spec.httpStatus,
      durationMs,
      attempts: 1,
      error: spec.status === 'success' ? null : `target answered ${spec.status}`,
      response: { snippet: '{"ok":true}', bytes: 11, truncated: false, contentType: 'application/json' },
      retryAfterMs: null,
      scheduledFor,
      startedAt,
      finishedAt: new Date(Date.parse(startedAt) + durationMs).toISOString(),
      trigger,
      retryOf,
    },
  };
  return [started, finished];
}

export function hintProposed(
  endpointId: string,
  kind: HintKind,
  value: number | string,
  expiresAtMin: number,
  proposedAtMin = 0,
): AIHintProposed {
  return {
    type: 'AIHintProposed',
    data: {
      endpointId,
      hintId: newId('hint'),
      kind,
      value,
      requested: null,
      expiresAt: at(expiresAtMin),
      reason: `${kind} because`,
      source: 'ai',
      model: 'gpt-test',
      proposedAt: at(proposedAtMin),
    },
  };
}

export function nextRunPlanned(
  endpointId: string,
  jobId: string,
  runAtMin: number,
  plannedAtMin = 0,
): NextRunPlanned {
  return {
    type: 'NextRunPlanned',
    data: {
      endpointId,
      jobId,
      runId: newId('run'),
      runAt: at(runAtMin),
      reason: 'interval',
      inputs: { intervalMs: 60_000 },
      plannedAt: at(plannedAtMin),
    },
  };
}

export function analysisCompleted(
  endpointId: string,
  minutes: number,
  tokens = { in: 100, out: 20 },
): AIAnalysisCompleted {
  return {
    type: 'AIAnalysisCompleted',
    data: {
      endpointId,
      analysisId: newId('analysis'),
      planner: 'ai',
      model: 'gpt-test',
      tokensIn: tokens.in,
      tokensOut: tokens.out,
      toolCalls: [
        { name: 'propose_interval', arguments: { intervalMs: 30_000 }, accepted: true, reason: null },
      ],
      summary: 'tightened while failing',
      analyzedAt: at(minutes),
    },
  };
}

/** A run due at `minutes` not started within its budget, found a minute later. */
export function runMissed(endpointId: string, minutes: number): RunMissed {
  return {
    type: 'RunMissed',
    data: {
      endpointId,
      runId: newId('run'),
      scheduledFor: at(minutes),
      lateMs: 5_000,
      budgetMs: 1_000,
      detectedAt: at(minutes + 1),
    },
  };
}

/** The slot at `minutes` skipped by the overlap policy. */
export function runSkipped(endpointId: string, minutes: number): RunSkipped {
  return {
    type: 'RunSkipped',
    data: {
      endpointId,
      runId: null,
      scheduledFor: at(minutes),
      policy: 'overlap',
      reason: 'busy',
      count: 1,
      skippedAt: at(minutes),
    },
  };
}

/** Without `tokens`, as written before failed analyses carried what the LLM billed. */
export function analysisFailed(
  endpointId: string,
  minutes: number,
  tokens?: { in: number; out: number },
): AIAnalysisFailed {
  return {
    type: 'AIAnalysisFailed',
    data: {
      endpointId,
      analysisId: newId('analysis'),
      model: 'gpt-test',
      reason: 'timeout',
      error: 'LLM did not answer in 30 s',
      ...(tokens ? { tokensIn: tokens.in, tokensOut: tokens.out } : {}),
      failedAt: at(minutes),
    },
  };
}

/** Every read-model table's rows in primary-key order, as JSON-comparable values. */
export async function snapshotReadModels(pool: Pool): Promise<Record<string, unknown[]>> {
  const keys: Record<(typeof READ_MODEL_TABLES)[number], string> = {
    rm_stream_versions: 'stream_id',
    rm_jobs: 'job_id',
    rm_endpoints: 'endpoint_id',
    rm_runs: 'run_id',
    rm_analyses: 'analysis_id',
    rm_run_stats_hourly: 'tenant_id, endpoint_id, hour_start',
  };
  const snapshot: Record<string, unknown[]> = {};
  for (const table of READ_MODEL_TABLES) {
    const { rows } = await pool.query(`SELECT * FROM ${table} ORDER BY ${keys[table]}`);
    snapshot[table] = JSON.parse(JSON.stringify(rows)) as unknown[];
  }
  return snapshot;
}

/**
 * A varied history for two tenants: jobs with updates, pauses and archives, endpoints with
 * config changes, pauses, hints, resets, plans, missed and skipped slots, runs of every
 * status and trigger, and analyses. Streams of different endpoints are appended
 * concurrently, so commit order interleaves them. With `project` each stream's events are
 * applied right after their append (as a projector would, in arrival order).
 */
export async function appendRichHistory(
  history: History,
  options: { project: boolean },
): Promise<EventEnvelope[]> {
  const all: EventEnvelope[] = [];
  const add = async (tenantId: string, streamId: string, ...events: Event[]) => {
    const envelopes = await history.append(tenantId, streamId, ...events);
    if (options.project) await history.project(envelopes);
    all.push(...envelopes);
  };
  for (const tenantId of [newId('tenant'), newId('tenant')]) {
    const jobs = [newId('job'), newId('job')];
    for (const [i, jobId] of jobs.entries()) {
      await add(tenantId, streamIds.job(jobId), {
        type: 'JobCreated',
        data: { jobId, name: `job ${i}`, description: null, createdAt: at(i) },
      });
    }
    await add(tenantId, streamIds.job(jobs[1]), {
      type: 'JobUpdated',
      data: { jobId: jobs[1], changes: { description: 'second' }, updatedAt: at(2) },
    });
    const endpoints = Array.from({ length: 4 }, (_, i) => ({
      endpointId: newId('endpoint'),
      jobId: jobs[i % 2],
    }));
    await Promise.all(
      endpoints.map(async ({ endpointId, jobId }, e) => {
        await add(
          tenantId,
          streamIds.endpoint(endpointId),
          endpointCreated(endpointId, jobId, { name: `ep ${e}` }, 3),
        );
        for (let r = 0; r < 6; r++) {
          const runId = newId('run');
          const status = (['success', 'failed', 'timeout'] as const)[(r + e) % 3];
          const trigger = (['schedule', 'schedule', 'manual', 'retry'] as const)[r % 4];
          await add(
            tenantId,
            streamIds.schedule(endpointId),
            nextRunPlanned(endpointId, jobId, 10 + r * 7, 9 + r * 7),
          );
          await add(
            tenantId,
            streamIds.run(runId),
            ...runEvents(runId, endpointId, jobId, {
              status,
              startedAtMin: 10 + r * 7,
              durationMs: 40 + 37 * r * (e + 1),
              lateMs: 13 * r,
              trigger,
            }),
          );
        }
        await add(
          tenantId,
          streamIds.endpoint(endpointId),
          hintProposed(endpointId, 'interval', 30_000, 500, 50),
        );
        await add(
          tenantId,
          streamIds.planner(endpointId),
          analysisCompleted(endpointId, 51),
          analysisFailed(endpointId, 52),
        );
        if (e % 2 === 0) {
          await add(
            tenantId,
            streamIds.endpoint(endpointId),
            {
              type: 'EndpointPaused',
              data: { endpointId, until: at(90), reason: 'deploy', by: 'user', pausedAt: at(60) },
            },
            { type: 'FailuresReset', data: { endpointId, resetAt: at(61) } },
          );
        }
        await add(
          tenantId,
          streamIds.schedule(endpointId),
          runMissed(endpointId, 70),
          runSkipped(endpointId, 72),
        );
      }),
    );
    await add(tenantId, streamIds.endpoint(endpoints[3].endpointId), {
      type: 'EndpointArchived',
      data: { endpointId: endpoints[3].endpointId, archivedAt: at(80) },
    });
    await add(tenantId, streamIds.job(jobs[0]), {
      type: 'JobPaused',
      data: { jobId: jobs[0], until: null, reason: 'holiday', pausedAt: at(81) },
    });
  }
  return all;
}
