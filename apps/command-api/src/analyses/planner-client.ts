import { Injectable } from '@nestjs/common';
import { RequestError, TimeoutError } from '@nats-io/nats-core';
import { AnalyzeReply, AnalyzeRequest, plannerAnalyzeSubject } from '@cronicorn/events';
import { NatsRuntime } from '@cronicorn/platform';
import { ApiError, unavailable } from '../common/api-error';

/**
 * How long command-api waits for an ai-planner to answer. Above the planner's own limit for a
 * whole LLM analysis (45 s by default) plus a wait for a running analysis of the endpoint.
 */
export const ANALYZE_TIMEOUT_MS = 90_000;

/**
 * Asks an ai-planner replica to analyse an endpoint now: a NATS core request on
 * `cronicorn.planner.analyze` (queue group `ai-planner`), answered with the recorded analysis.
 * No replica subscribed → 503; no answer in time → 504.
 */
@Injectable()
export class PlannerClient {
  timeoutMs = ANALYZE_TIMEOUT_MS;

  constructor(private readonly nats: NatsRuntime) {}

  async analyze(request: AnalyzeRequest): Promise<AnalyzeReply> {
    const handle = this.nats.handle;
    if (!handle || handle.nc.isClosed()) throw unavailable('NATS is not connected; retry later');
    try {
      const msg = await handle.nc.request(plannerAnalyzeSubject(handle.names), JSON.stringify(request), {
        timeout: this.timeoutMs,
      });
      return msg.json<AnalyzeReply>();
    } catch (error) {
      if (error instanceof RequestError && error.isNoResponders()) {
        throw new ApiError(503, 'ANALYSIS.NO_PLANNER', 'No ai-planner is running; retry later');
      }
      if (
        error instanceof TimeoutError ||
        (error instanceof RequestError && error.cause instanceof TimeoutError)
      ) {
        throw new ApiError(
          504,
          'ANALYSIS.TIMEOUT',
          'The ai-planner did not answer in time; the analysis may still be recorded (GET …/analyses)',
        );
      }
      throw error;
    }
  }
}
