import { randomUUID } from 'node:crypto';
import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import {
  conflict,
  DomainError,
  endpointDecider,
  endpointPauseAt,
  FireTrigger,
  jobDecider,
  jobPauseAt,
  RequestRun,
  tenantDecider,
} from '@cronicorn/domain';
import { streamIds, TriggerSkipReason } from '@cronicorn/events';
import { PG_POOL } from '@cronicorn/platform';
import type { Pool } from 'pg';
import { API_OPTIONS, ApiOptions } from '../../common/api-options';
import { CommandExecutor } from '../../common/command-executor';
import { READ_MODEL_CATCH_UP, ReadModelCatchUp } from '../../common/min-position.interceptor';
import { TransactionContext } from '../../common/transaction-context';
import type { CommandOrigin } from '../../resources/write-result';
import { ListeningEndpoint, listeningEndpoints } from '../listening-endpoints.query';
import { FireTriggerCommand, FireTriggerResult } from './fire-trigger.command';

/** Endpoints one trigger may start; more would make one request an unbounded transaction. */
export const MAX_TRIGGER_LISTENERS = 500;

/** The endpoint left the listeners between the read model's answer and its own stream's. */
const NOT_A_LISTENER = new Set(['ENDPOINT.NOT_LISTENING', 'ENDPOINT.ARCHIVED', 'ENDPOINT.NOT_FOUND']);

type Outcome =
  | { kind: 'requested'; runId: string }
  | { kind: 'skipped'; reason: TriggerSkipReason }
  | { kind: 'not_listening' };

/**
 * `POST /v1/triggers/:name`. The endpoints read model names the candidates; each is then
 * decided on its own stream (listening, not archived, not paused), so a stale read model
 * never starts a run the endpoint would refuse. Every `RunRequested` and the `TriggerFired`
 * that lists them commit in one transaction: all of them or none.
 */
@CommandHandler(FireTriggerCommand)
export class FireTriggerHandler implements ICommandHandler<FireTriggerCommand> {
  constructor(
    private readonly executor: CommandExecutor,
    private readonly transactions: TransactionContext,
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(READ_MODEL_CATCH_UP) private readonly catchUp: ReadModelCatchUp,
    @Inject(API_OPTIONS) private readonly options: ApiOptions,
  ) {}

  async execute({ origin, name, payload, minPosition }: FireTriggerCommand): Promise<FireTriggerResult> {
    const tenantId = origin.auth.tenantId;
    const lagging =
      minPosition !== null && !(await this.catchUp(minPosition, this.options.minPositionTimeoutMs));
    const now = new Date();
    const triggerId = randomUUID();
    const candidates = await listeningEndpoints(this.pool, tenantId, name, MAX_TRIGGER_LISTENERS + 1);
    if (candidates.length > MAX_TRIGGER_LISTENERS) {
      throw conflict(
        'TRIGGER.TOO_MANY_LISTENERS',
        `More than ${MAX_TRIGGER_LISTENERS} endpoints listen to "${name}"`,
      );
    }
    return this.transactions.run(async () => {
      const runs: FireTriggerResult['runs'] = [];
      const skipped: FireTriggerResult['skipped'] = [];
      const jobsPaused = new Map<string, boolean | null>();
      // Sorted by endpoint id (the query's order): concurrent fires lock streams in one order.
      for (const candidate of candidates) {
        const outcome = await this.requestRun(origin, candidate, name, payload, now, jobsPaused);
        if (outcome.kind === 'requested')
          runs.push({ endpointId: candidate.endpointId, runId: outcome.runId });
        if (outcome.kind === 'skipped')
          skipped.push({ endpointId: candidate.endpointId, reason: outcome.reason });
      }
      const command: FireTrigger = {
        type: 'FireTrigger',
        data: {
          tenantId,
          triggerId,
          name,
          payload,
          endpointIds: runs.map((run) => run.endpointId),
          runs,
          skipped,
        },
        metadata: { now },
      };
      const { position } = await this.executor.execute({
        streamId: streamIds.tenant(tenantId),
        decider: tenantDecider,
        command,
        ...origin,
      });
      return { triggerId, runs, skipped, position, lagging };
    });
  }

  private async requestRun(
    origin: CommandOrigin,
    { endpointId, jobId }: ListeningEndpoint,
    name: string,
    payload: unknown,
    now: Date,
    jobsPaused: Map<string, boolean | null>,
  ): Promise<Outcome> {
    if (!jobsPaused.has(jobId)) jobsPaused.set(jobId, await this.jobPaused(origin, jobId, now));
    const jobPaused = jobsPaused.get(jobId);
    if (jobPaused === null) return { kind: 'not_listening' };
    if (jobPaused) return { kind: 'skipped', reason: 'job_paused' };

    const runId = randomUUID();
    let paused = false;
    // The pause is judged on the state the append is decided on, retried conflicts included.
    const decider: typeof endpointDecider = {
      ...endpointDecider,
      decide: (command, state) => {
        paused = endpointPauseAt(state, now) !== null;
        return paused ? [] : endpointDecider.decide(command, state);
      },
    };
    const command: RequestRun = {
      type: 'RequestRun',
      data: { endpointId, runId, source: 'trigger', trigger: { name, payload }, retryOf: null },
      metadata: { now },
    };
    try {
      const { envelopes } = await this.executor.execute({
        streamId: streamIds.endpoint(endpointId),
        decider,
        command,
        ...origin,
      });
      if (envelopes.length > 0) return { kind: 'requested', runId };
      return paused ? { kind: 'skipped', reason: 'endpoint_paused' } : { kind: 'not_listening' };
    } catch (error) {
      if (error instanceof DomainError && NOT_A_LISTENER.has(error.code)) return { kind: 'not_listening' };
      throw error;
    }
  }

  /** Whether the job is paused now; null when it is archived or unknown (no runs at all). */
  private async jobPaused(origin: CommandOrigin, jobId: string, now: Date): Promise<boolean | null> {
    try {
      const { state } = await this.executor.load(
        streamIds.job(jobId),
        jobDecider,
        origin.auth,
        'JOB.NOT_FOUND',
      );
      if (state.status === 'archived' || state.status === 'empty') return null;
      return jobPauseAt(state, now) !== null;
    } catch (error) {
      if (error instanceof DomainError && error.kind === 'not_found') return null;
      throw error;
    }
  }
}
