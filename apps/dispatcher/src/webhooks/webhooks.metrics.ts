import { METRIC_PREFIX } from '@cronicorn/platform';
import { Counter, Histogram, Registry } from 'prom-client';
import type { AttemptOutcome, WebhookDeliveryMetrics } from './webhook-delivery-loop';

/** Webhook delivery metrics on the app's registry (served on `/metrics`). */
export class WebhookMetrics implements WebhookDeliveryMetrics {
  private readonly attempts: Counter<'outcome'>;
  private readonly duration: Histogram<'outcome'>;
  private readonly notSent: Counter;
  private readonly circuitsOpened: Counter;

  constructor(registry: Registry) {
    this.attempts = new Counter({
      name: `${METRIC_PREFIX}webhook_attempts_total`,
      help: 'Webhook delivery attempts, by outcome (delivered, retry, failed, cancelled)',
      labelNames: ['outcome'],
      registers: [registry],
    });
    this.duration = new Histogram({
      name: `${METRIC_PREFIX}webhook_attempt_duration_seconds`,
      help: 'Wall time of one webhook POST, by outcome',
      labelNames: ['outcome'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    });
    this.notSent = new Counter({
      name: `${METRIC_PREFIX}webhook_attempts_not_sent_total`,
      help: "Webhook attempts recorded without a call because the subscription's circuit was open",
      registers: [registry],
    });
    this.circuitsOpened = new Counter({
      name: `${METRIC_PREFIX}webhook_circuits_opened_total`,
      help: "Times a subscription's receiver failed enough calls in a row to pause its deliveries",
      registers: [registry],
    });
  }

  onNotSent(): void {
    this.notSent.inc();
  }

  onCircuitOpened(): void {
    this.circuitsOpened.inc();
  }

  onAttempt(outcome: AttemptOutcome, durationMs: number): void {
    this.attempts.inc({ outcome });
    this.duration.observe({ outcome }, durationMs / 1000);
  }
}
