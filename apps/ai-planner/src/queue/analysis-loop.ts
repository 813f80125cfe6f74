import { backoffMs, errorFields, MessagingLogger, Wakeup } from '@cronicorn/messaging';
import type { Clock } from '@cronicorn/platform';
import { AiPlannerMetrics } from '../ai-planner.metrics';
import { Analyzer } from '../analysis/analyzer';
import { AnalysisQueue, ClaimedEndpoint } from './analysis-queue';

export interface AnalysisLoopOptions {
  /** How often due rows are looked for when nothing wakes the loop. */
  pollIntervalMs: number;
  /** Analyses running at once in this replica. */
  concurrency: number;
}

/**
 * Picks due endpoints and analyses them, `concurrency` at a time. Rows are leased by
 * `AnalysisQueue.claimDue` (`FOR UPDATE SKIP LOCKED`), so replicas share the work; the lease
 * is released in the transaction that records the analysis. An analysis that could not run
 * (Postgres or NATS trouble) is retried with backoff; LLM trouble is an `AIAnalysisFailed`
 * recorded by the analyzer and never stops the loop.
 */
export class AnalysisLoop {
  private readonly wakeup = new Wakeup();
  private readonly abort = new AbortController();
  private readonly inFlight = new Set<Promise<void>>();
  private running: Promise<void> | null = null;

  constructor(
    private readonly queue: AnalysisQueue,
    private readonly analyzer: Analyzer,
    private readonly clock: Clock,
    private readonly options: AnalysisLoopOptions,
    private readonly logger: MessagingLogger,
    private readonly metrics?: AiPlannerMetrics,
  ) {}

  start(): void {
    this.running ??= this.run();
  }

  /** Look for due rows now (a run finished). */
  wake(): void {
    this.wakeup.wake();
  }

  /** Stops claiming and waits for the analyses in flight to be recorded. */
  async stop(): Promise<void> {
    this.abort.abort();
    this.wakeup.wake();
    await this.running;
    await Promise.all([...this.inFlight]);
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    let failures = 0;
    while (!signal.aborted) {
      const free = this.options.concurrency - this.inFlight.size;
      let claimed: ClaimedEndpoint[] = [];
      if (free > 0) {
        try {
          claimed = await this.queue.claimDue(this.clock.now(), free);
          failures = 0;
        } catch (error) {
          failures += 1;
          this.logger.warn({ ...errorFields(error) }, 'cannot claim due analyses; retrying');
        }
      }
      for (const endpoint of claimed) {
        const task = this.analyse(endpoint).finally(() => {
          this.inFlight.delete(task);
          this.wakeup.wake();
        });
        this.inFlight.add(task);
      }
      if (claimed.length > 0 && claimed.length === free) continue;
      await this.wakeup.wait(
        failures ? backoffMs(failures, 500, 15_000) : this.options.pollIntervalMs,
        signal,
      );
    }
  }

  private async analyse(endpoint: ClaimedEndpoint): Promise<void> {
    try {
      const outcome = await this.analyzer.analyze(endpoint, 'run', (client, now) =>
        this.queue.finish(client, endpoint, now),
      );
      if (outcome.kind === 'gone') await this.queue.drop(endpoint);
    } catch (error) {
      this.metrics?.onCrashed?.();
      const retryAt = new Date(
        this.clock.now().getTime() + backoffMs(endpoint.attempts + 1, 1_000, 5 * 60_000),
      );
      this.logger.warn(
        { endpointId: endpoint.endpointId, retryAt: retryAt.toISOString(), ...errorFields(error) },
        'analysis could not run; retrying later',
      );
      await this.queue.retryLater(endpoint, retryAt).catch(() => undefined);
    }
  }
}
