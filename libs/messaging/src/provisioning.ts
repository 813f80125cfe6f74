import {
  AckPolicy,
  ConsumerConfig,
  ConsumerInfo,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiError,
  JetStreamManager,
  RetentionPolicy,
  StorageType,
  StreamConfig,
  StreamInfo,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { NatsNames, StreamCategory } from '@cronicorn/events';

/** Re-publishes of the same `Nats-Msg-Id` within this window are dropped by the stream. */
export const DUPLICATE_WINDOW_MS = 2 * 60_000;

const STREAM_NAME_IN_USE = 10058;
const CONSUMER_NOT_FOUND = 10014;

type StreamSpec = Pick<
  StreamConfig,
  'name' | 'subjects' | 'retention' | 'storage' | 'discard' | 'duplicate_window'
>;

export function eventsStreamConfig(names: NatsNames): StreamSpec {
  return {
    name: names.eventsStream,
    subjects: [names.allEvents],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
  };
}

export function dispatchStreamConfig(names: NatsNames): StreamSpec {
  return {
    name: names.dispatchStream,
    subjects: [names.allDispatch],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
  };
}

/**
 * Creates `CRONICORN_EVENTS` and `CRONICORN_DISPATCH` (namespaced by `names`), or brings
 * their configuration up to date. Safe to run from every app at boot, also concurrently:
 * an identical `add` is accepted by the server, a differing one is turned into an update.
 */
export async function provisionStreams(jsm: JetStreamManager, names: NatsNames): Promise<StreamInfo[]> {
  return [
    await ensureStream(jsm, eventsStreamConfig(names)),
    await ensureStream(jsm, dispatchStreamConfig(names)),
  ];
}

async function ensureStream(jsm: JetStreamManager, config: StreamSpec): Promise<StreamInfo> {
  try {
    return await jsm.streams.add(config);
  } catch (err) {
    if (!(err instanceof JetStreamApiError && err.code === STREAM_NAME_IN_USE)) throw err;
    const { name, retention: _r, storage: _s, ...updatable } = config;
    return jsm.streams.update(name, updatable);
  }
}

/** A durable pull consumer as the apps use it (explicit acks, one filter subject). */
export interface ConsumerSpec {
  durable: string;
  /** One subject filter: nats-server 2.9 takes only one per consumer. */
  filterSubject: string;
  /** How long a delivered message may stay unacknowledged before redelivery. Default 30 s. */
  ackWaitMs?: number;
  /**
   * Deliveries a worker attempts before it dead-letters the message. Default 5. The server
   * is given one spare delivery, so a message whose last attempt died with its process is
   * still seen once more and recorded instead of silently dropped.
   */
  maxDeliver?: number;
  /** Unacknowledged messages the server hands out across all replicas. Default 1000. */
  maxAckPending?: number;
  deliverPolicy?: DeliverPolicy;
  description?: string;
}

export const DEFAULT_MAX_DELIVER = 5;

/**
 * Creates or updates a durable consumer. Apps never create consumers themselves: they call
 * `js.consumers.get(stream, durable)` on what bootstrap provisioned here.
 */
export async function provisionConsumer(
  jsm: JetStreamManager,
  stream: string,
  spec: ConsumerSpec,
): Promise<ConsumerInfo> {
  const updatable: Partial<ConsumerConfig> = {
    filter_subject: spec.filterSubject,
    ack_wait: nanos(spec.ackWaitMs ?? 30_000),
    max_deliver: (spec.maxDeliver ?? DEFAULT_MAX_DELIVER) + 1,
    max_ack_pending: spec.maxAckPending ?? 1_000,
    ...(spec.description ? { description: spec.description } : {}),
  };
  try {
    return await jsm.consumers.add(stream, {
      durable_name: spec.durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: spec.deliverPolicy ?? DeliverPolicy.All,
      ...updatable,
    });
  } catch (err) {
    // Newer servers refuse an `add` over an existing, different consumer; older ones update.
    if (!(err instanceof JetStreamApiError)) throw err;
    return jsm.consumers.update(stream, spec.durable, updatable);
  }
}

/** The attempts a worker makes for a consumer provisioned with `provisionConsumer`. */
export function attemptsOf(info: ConsumerInfo): number {
  const max = info.config.max_deliver ?? -1;
  return max > 1 ? max - 1 : Number.POSITIVE_INFINITY;
}

/**
 * Deletes a durable consumer the apps no longer read (an upgraded deployment still has it,
 * and its backlog only grows). Returns whether there was one; any error is left to the caller.
 */
export async function retireConsumer(
  jsm: JetStreamManager,
  stream: string,
  durable: string,
): Promise<boolean> {
  try {
    return await jsm.consumers.delete(stream, durable);
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === CONSUMER_NOT_FOUND) return false;
    throw err;
  }
}

/**
 * The filter subject of an event consumer: every event, or one category across tenants
 * (`cronicorn.events.*.<category>.>`). Several categories share the full filter and the
 * consumer drops the others in code (one filter subject per consumer on nats-server 2.9).
 */
export function eventsFilterSubject(names: NatsNames, categories: readonly StreamCategory[]): string {
  const unique = [...new Set(categories)];
  return unique.length === 1 ? `${names.eventsSubjectPrefix}.*.${unique[0]}.>` : names.allEvents;
}
