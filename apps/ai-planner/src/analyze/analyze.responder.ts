import type { Msg, NatsConnection, Subscription } from '@nats-io/nats-core';
import {
  AnalyzeErrorCode,
  AnalyzeReply,
  AnalyzeRequest,
  NatsNames,
  plannerAnalyzeSubject,
  streamIds,
} from '@cronicorn/events';
import { EventStore } from '@cronicorn/event-store';
import { errorFields, MessagingLogger, sleep } from '@cronicorn/messaging';
import { Analyzer } from '../analysis/analyzer';
import { AnalysisQueue, ClaimedEndpoint } from '../queue/analysis-queue';

/** The queue group of the replicas: each request is answered by one of them. */
export const ANALYZE_QUEUE_GROUP = 'ai-planner';

export interface AnalyzeResponderOptions {
  /** How long a request waits for a running analysis of the same endpoint to end. */
  busyWaitMs: number;
  busyPollMs: number;
}

/**
 * Answers `POST /v1/endpoints/:id/analyze` (via command-api) over NATS request/reply on
 * `cronicorn.planner.analyze`: runs one analysis now, through the same analyzer and lease as
 * the loop, and replies with the recorded result. Requests are handled concurrently; a second
 * request for an endpoint being analysed waits for that analysis, then runs its own.
 */
export class AnalyzeResponder {
  private subscription: Subscription | null = null;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly abort = new AbortController();

  constructor(
    private readonly nc: NatsConnection,
    private readonly names: NatsNames,
    private readonly queue: AnalysisQueue,
    private readonly analyzer: Analyzer,
    private readonly store: Pick<EventStore, 'readStream'>,
    private readonly options: AnalyzeResponderOptions,
    private readonly logger: MessagingLogger,
  ) {}

  start(): void {
    if (this.subscription) return;
    this.subscription = this.nc.subscribe(plannerAnalyzeSubject(this.names), {
      queue: ANALYZE_QUEUE_GROUP,
      callback: (error, msg) => {
        if (error) {
          this.logger.warn({ ...errorFields(error) }, 'analyze subscription error');
          return;
        }
        const task = this.handle(msg).finally(() => this.inFlight.delete(task));
        this.inFlight.add(task);
      },
    });
  }

  /** Stops taking requests; the ones in flight are answered first. */
  async stop(): Promise<void> {
    this.abort.abort();
    const subscription = this.subscription;
    this.subscription = null;
    if (subscription && !subscription.isClosed()) subscription.unsubscribe();
    await Promise.all([...this.inFlight]);
  }

  private async handle(msg: Msg): Promise<void> {
    let reply: AnalyzeReply;
    try {
      reply = await this.answer(msg);
    } catch (error) {
      this.logger.error({ ...errorFields(error) }, 'on-demand analysis failed');
      reply = refuse('ANALYSIS.UNAVAILABLE', 'the planner could not run the analysis; retry later');
    }
    if (!msg.reply) return;
    try {
      msg.respond(JSON.stringify(reply));
    } catch (error) {
      this.logger.warn({ ...errorFields(error) }, 'cannot answer an analyze request');
    }
  }

  private async answer(msg: Msg): Promise<AnalyzeReply> {
    const request = parseRequest(msg);
    if (!request) return refuse('ANALYSIS.INVALID_REQUEST', 'expected {tenantId, endpointId, correlationId}');
    const { tenantId, endpointId, correlationId } = request;
    const stored = await this.store.readStream(streamIds.endpoint(endpointId));
    if (stored.length === 0 || stored[0].tenantId !== tenantId) return notFound();

    const lease = await this.acquire(endpointId, tenantId);
    if (!lease) return refuse('ANALYSIS.BUSY', 'another analysis of this endpoint is still running');
    try {
      const outcome = await this.analyzer.analyze(
        { ...lease, correlationId, causationId: null },
        'demand',
        (client, now) => this.queue.finish(client, lease, now),
      );
      if (outcome.kind === 'gone') {
        await this.queue.drop(lease);
        return notFound();
      }
      return { ok: true, analysis: outcome.result };
    } catch (error) {
      await this.queue.release(lease).catch(() => undefined);
      throw error;
    }
  }

  private async acquire(endpointId: string, tenantId: string): Promise<ClaimedEndpoint | null> {
    const deadline = Date.now() + this.options.busyWaitMs;
    for (;;) {
      const lease = await this.queue.acquire(endpointId, tenantId);
      if (lease || Date.now() >= deadline || this.abort.signal.aborted) return lease;
      await sleep(this.options.busyPollMs, this.abort.signal);
    }
  }
}

const refuse = (code: AnalyzeErrorCode, message: string): AnalyzeReply => ({
  ok: false,
  error: { code, message },
});
const notFound = () => refuse('ENDPOINT.NOT_FOUND', 'Endpoint not found');

function parseRequest(msg: Msg): AnalyzeRequest | null {
  let body: unknown;
  try {
    body = msg.json<unknown>();
  } catch {
    return null;
  }
  if (typeof body !== 'object' || body === null) return null;
  const { tenantId, endpointId, correlationId } = body as Record<string, unknown>;
  if (
    typeof tenantId !== 'string' ||
    tenantId === '' ||
    typeof endpointId !== 'string' ||
    endpointId === ''
  ) {
    return null;
  }
  return { tenantId, endpointId, correlationId: typeof correlationId === 'string' ? correlationId : null };
}
