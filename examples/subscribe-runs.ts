/**
 * Subscribe to one tenant's run events on NATS JetStream, as an external system would.
 *
 *   CRONICORN_TENANT_ID=<tenantId> npx tsx examples/subscribe-runs.ts
 *
 * Environment: NATS_URL (default nats://127.0.0.1:4222), CRONICORN_TENANT_ID (required),
 * CONSUMER_NAME (default `runs-<tenantId>`; reuse it to continue where you stopped),
 * FROM_START=true to also receive the run events already in the stream (default: new ones only),
 * CRONICORN_NATS_NAMESPACE when the installation uses one (empty by default).
 *
 * It creates a durable pull consumer on CRONICORN_EVENTS filtered to
 * `cronicorn.events.<tenantId>.run.>` (once; later runs reuse it), prints every RunFinished
 * and acknowledges each message after handling it. Only @nats-io packages are needed.
 */
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, JetStreamApiError } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';

/** The envelope every event has on NATS (see docs/integrations.md). */
interface EventEnvelope<Data = Record<string, unknown>> {
  id: string;
  type: string;
  schemaVersion: number;
  streamId: string;
  streamVersion: number;
  position: string;
  tenantId: string;
  occurredAt: string;
  data: Data;
  metadata: { tenantId: string; correlationId?: string; causationId?: string; actor?: string };
}

interface RunFinishedData {
  runId: string;
  endpointId: string;
  jobId: string;
  status: 'success' | 'failed' | 'timeout';
  httpStatus: number | null;
  durationMs: number;
  attempts: number;
  error: string | null;
  finishedAt: string;
}

const CONSUMER_NOT_FOUND = 10014;

async function main(): Promise<void> {
  const tenantId = process.env.CRONICORN_TENANT_ID;
  if (!tenantId) throw new Error('Set CRONICORN_TENANT_ID to the tenant whose runs you want');
  const namespace = process.env.CRONICORN_NATS_NAMESPACE ?? '';
  const stream = `${namespace ? `${namespace.toUpperCase()}_` : ''}CRONICORN_EVENTS`;
  const subject = `${namespace ? `${namespace}.` : ''}cronicorn.events.${tenantId}.run.>`;
  const durable = process.env.CONSUMER_NAME ?? `runs-${tenantId}`;

  const nc = await connect({ servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222', name: durable });
  const jsm = await jetstreamManager(nc);
  try {
    await jsm.consumers.info(stream, durable);
  } catch (err) {
    if (!(err instanceof JetStreamApiError && err.code === CONSUMER_NOT_FOUND)) throw err;
    await jsm.consumers.add(stream, {
      durable_name: durable,
      filter_subject: subject,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: process.env.FROM_START === 'true' ? DeliverPolicy.All : DeliverPolicy.New,
      ack_wait: 30_000_000_000, // nanoseconds: unacknowledged for 30 s → redelivered
      max_deliver: 10,
    });
    console.log(`created durable consumer "${durable}" on ${stream} filtered to ${subject}`);
  }

  const consumer = await jetstream(nc).consumers.get(stream, durable);
  const messages = await consumer.consume({ max_messages: 100 });
  const stop = () => void messages.close();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  console.log(`waiting for run events of tenant ${tenantId} (Ctrl-C to stop)`);

  // At least once: a message may arrive twice (redelivery after a crash before the ack).
  // Deduplicate by envelope.id if your handler is not idempotent.
  for await (const m of messages) {
    try {
      const envelope = m.json<EventEnvelope>();
      if (envelope.type === 'RunFinished') {
        const run = envelope.data as unknown as RunFinishedData;
        console.log(
          `#${envelope.position} ${run.finishedAt} run ${run.runId} of endpoint ${run.endpointId}: ` +
            `${run.status}${run.httpStatus === null ? '' : ` (HTTP ${run.httpStatus})`} in ${run.durationMs} ms` +
            (run.error ? ` — ${run.error}` : ''),
        );
      }
      m.ack();
    } catch (err) {
      console.error(`cannot handle message ${m.seq}: ${(err as Error).message}`);
      m.nak(5_000); // try again in 5 s
    }
  }
  await nc.drain();
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
