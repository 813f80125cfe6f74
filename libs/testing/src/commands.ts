import { randomUUID } from 'node:crypto';
import { Decider, fold } from '@cronicorn/domain';
import type { EventStore } from '@cronicorn/event-store';
import type { Event, EventEnvelope } from '@cronicorn/events';

/**
 * Appends what `decider` decides for `command`, as command-api would, for tests that drive the
 * apps through the store: read the stream, fold, decide, append at the version read.
 */
export async function decideAndAppend<S, C, E extends Event>(
  store: Pick<EventStore, 'readStream' | 'append'>,
  decider: Decider<S, C, E>,
  streamId: string,
  command: C,
  options: { tenantId: string; occurredAt?: Date },
): Promise<EventEnvelope[]> {
  const stored = await store.readStream(streamId);
  const state = fold(
    decider,
    stored.map((e) => ({ type: e.type, data: e.data }) as E),
  );
  const events = decider.decide(command, state);
  if (events.length === 0) return [];
  const result = await store.append(streamId, events, {
    expectedVersion: stored.at(-1)?.streamVersion ?? 0,
    metadata: { tenantId: options.tenantId, actor: 'test', correlationId: randomUUID() },
    ...(options.occurredAt ? { occurredAt: options.occurredAt } : {}),
  });
  return result.envelopes;
}
