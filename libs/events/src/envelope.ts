/**
 * A domain event before it is stored: the fact's name and its payload. Plain data, never a
 * class, so it survives a JSON round trip through Postgres and JetStream unchanged.
 */
export type Event<Type extends string = string, Data extends object = object> = Readonly<{
  type: Type;
  data: Readonly<Data>;
}>;

/**
 * Tracing facts about who caused an event. Set by adapters (HTTP, consumers), never by the
 * domain. `tenantId` is always present and decides the NATS subject.
 */
export interface EventMetadata {
  readonly tenantId: string;
  /** Follows one user command through every event, run and analysis it leads to. */
  readonly correlationId?: string;
  /** The event id (or request id) that directly caused this event. */
  readonly causationId?: string;
  /** `apikey:<keyId>`, `admin`, `scheduler`, `dispatcher`, `ai-planner`, … */
  readonly actor?: string;
}

/**
 * A stored event as every reader sees it: in the store, on NATS (`cronicorn.events.…`) and
 * in `GET /v1/events`. Field names are a public contract (DESIGN §3).
 *
 * - `position` is the global position in the log (a bigint, carried as a decimal string).
 * - `streamVersion` starts at 1 for the first event of a stream and has no gaps.
 */
export interface EventEnvelope<E extends Event = Event> {
  readonly id: string;
  readonly type: E['type'];
  readonly schemaVersion: number;
  readonly streamId: string;
  readonly streamVersion: number;
  readonly position: string;
  readonly tenantId: string;
  readonly occurredAt: string;
  readonly data: E['data'];
  readonly metadata: EventMetadata;
}
