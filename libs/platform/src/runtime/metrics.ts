import type { NextFunction, Request, Response } from 'express';
import type { EventEnvelope } from '@cronicorn/events';
import type { JetStreamManager } from '@nats-io/jetstream';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AppName } from '../config';

export const METRIC_PREFIX = 'cronicorn_';

/** A fresh registry labelled with the app, carrying Node's default metrics. */
export function createMetricsRegistry(app: AppName): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ app });
  collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  return registry;
}

/** Express middleware timing every request by method, route template and status. */
export function httpMetricsMiddleware(registry: Registry) {
  const histogram = new Histogram({
    name: `${METRIC_PREFIX}http_request_duration_seconds`,
    help: 'HTTP request duration by method, route and status code',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  return (req: Request, res: Response, next: NextFunction) => {
    const end = histogram.startTimer();
    res.once('finish', () => {
      // The route template keeps label cardinality bounded (ids stay out of it).
      const route = (req.route as { path?: string } | undefined)?.path;
      end({
        method: req.method,
        route: route ? `${req.baseUrl}${route}` : 'unmatched',
        status: String(res.statusCode),
      });
    });
    next();
  };
}

/** Counts appended events by category and type (`PostgresEventStore`'s append hook). */
export function eventsAppendedCounter(registry: Registry): (envelopes: readonly EventEnvelope[]) => void {
  const counter = new Counter({
    name: `${METRIC_PREFIX}events_appended_total`,
    help: 'Events appended by this process, by stream category and type',
    labelNames: ['category', 'type'] as const,
    registers: [registry],
  });
  return (envelopes) => {
    for (const envelope of envelopes) {
      counter.inc({
        category: envelope.streamId.slice(0, envelope.streamId.indexOf('-')),
        type: envelope.type,
      });
    }
  };
}

/**
 * Consumer lag as JetStream sees it, read at scrape time: messages not yet delivered
 * (`num_pending`) and delivered but not yet acknowledged (`num_ack_pending`) for every durable
 * consumer of both streams. The dispatcher's KEDA overlay scales on the same numbers.
 */
export function jetStreamConsumerLagGauges(
  registry: Registry,
  handle: () => { jsm: JetStreamManager; names: { eventsStream: string; dispatchStream: string } } | null,
): void {
  const ackPending = new Gauge({
    name: `${METRIC_PREFIX}consumer_ack_pending_messages`,
    help: 'Messages delivered to the durable consumer and not yet acknowledged',
    labelNames: ['stream', 'consumer'] as const,
    registers: [],
  });
  // Registered after the gauge whose collect() fills it, so a scrape serialises fresh values.
  new Gauge({
    name: `${METRIC_PREFIX}consumer_pending_messages`,
    help: 'Messages of the stream not yet delivered to the durable consumer',
    labelNames: ['stream', 'consumer'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      ackPending.reset();
      const current = handle();
      if (!current) return;
      for (const stream of [current.names.eventsStream, current.names.dispatchStream]) {
        try {
          for await (const info of current.jsm.consumers.list(stream)) {
            const labels = { stream, consumer: info.name };
            this.set(labels, info.num_pending);
            ackPending.set(labels, info.num_ack_pending);
          }
        } catch {
          // NATS unavailable at scrape time: /readyz says so; the gauges stay empty.
        }
      }
    },
  });
  registry.registerMetric(ackPending);
}
