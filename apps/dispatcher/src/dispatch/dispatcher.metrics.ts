import { RunStatus } from '@cronicorn/events';
import { METRIC_PREFIX } from '@cronicorn/platform';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** How a delivery of a work item ended (see `DeliveryResult`). */
export type DeliveryOutcome =
  'finished' | 'already_finished' | 'held_elsewhere' | 'superseded' | 'abandoned' | 'failed';

/** Hooks the run dispatcher calls; the Prometheus implementation is {@link DispatcherMetrics}. */
export interface RunMetrics {
  runStarted(lateMs: number): void;
  runFinished(status: RunStatus, durationMs: number): void;
  callStarted(): void;
  callEnded(): void;
  delivery(outcome: DeliveryOutcome): void;
}

export const noRunMetrics: RunMetrics = {
  runStarted: () => undefined,
  runFinished: () => undefined,
  callStarted: () => undefined,
  callEnded: () => undefined,
  delivery: () => undefined,
};

const SECONDS_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** Dispatcher metrics on the app's registry (served on `/metrics`). */
export class DispatcherMetrics implements RunMetrics {
  private readonly runs: Counter<'status'>;
  private readonly duration: Histogram<'status'>;
  private readonly lateness: Histogram;
  private readonly inFlight: Gauge;
  private readonly deliveries: Counter<'outcome'>;

  constructor(registry: Registry) {
    this.runs = new Counter({
      name: `${METRIC_PREFIX}dispatcher_runs_total`,
      help: 'Runs this dispatcher finished, by status',
      labelNames: ['status'],
      registers: [registry],
    });
    this.duration = new Histogram({
      name: `${METRIC_PREFIX}dispatcher_run_duration_seconds`,
      help: 'Wall time of a run (all HTTP attempts), by status',
      labelNames: ['status'],
      buckets: SECONDS_BUCKETS,
      registers: [registry],
    });
    this.lateness = new Histogram({
      name: `${METRIC_PREFIX}dispatcher_run_lateness_seconds`,
      help: 'startedAt - scheduledFor of each run start',
      buckets: [0.005, ...SECONDS_BUCKETS],
      registers: [registry],
    });
    this.inFlight = new Gauge({
      name: `${METRIC_PREFIX}dispatcher_runs_in_flight`,
      help: 'HTTP calls of runs in progress in this dispatcher',
      registers: [registry],
    });
    this.deliveries = new Counter({
      name: `${METRIC_PREFIX}dispatcher_deliveries_total`,
      help: 'Work-item deliveries by outcome (duplicates, take-overs, failures)',
      labelNames: ['outcome'],
      registers: [registry],
    });
  }

  runStarted(lateMs: number): void {
    this.lateness.observe(Math.max(0, lateMs) / 1000);
  }

  runFinished(status: RunStatus, durationMs: number): void {
    this.runs.inc({ status });
    this.duration.observe({ status }, durationMs / 1000);
  }

  callStarted(): void {
    this.inFlight.inc();
  }

  callEnded(): void {
    this.inFlight.dec();
  }

  delivery(outcome: DeliveryOutcome): void {
    this.deliveries.inc({ outcome });
  }
}
