import { parseStreamId, StreamCategory } from './streams';

/**
 * Names of the JetStream streams and subjects (DESIGN §3). `namespace` exists so that test
 * suites and side-by-side installations get their own streams on one NATS server; the
 * default (empty) namespace gives the contract names `CRONICORN_EVENTS` / `cronicorn.events.>`.
 */
export class NatsNames {
  readonly eventsStream: string;
  readonly eventsSubjectPrefix: string;
  readonly dispatchStream: string;
  readonly dispatchSubjectPrefix: string;

  constructor(readonly namespace = '') {
    const streamPrefix = namespace ? `${namespace.toUpperCase()}_` : '';
    const subjectPrefix = namespace ? `${namespace}.` : '';
    this.eventsStream = `${streamPrefix}CRONICORN_EVENTS`;
    this.eventsSubjectPrefix = `${subjectPrefix}cronicorn.events`;
    this.dispatchStream = `${streamPrefix}CRONICORN_DISPATCH`;
    this.dispatchSubjectPrefix = `${subjectPrefix}cronicorn.dispatch`;
  }

  /** `cronicorn.events.<tenantId>.<category>.<EventType>`. */
  eventSubject(tenantId: string, category: StreamCategory, eventType: string): string {
    return `${this.eventsSubjectPrefix}.${tenantId}.${category}.${eventType}`;
  }

  subjectOfEnvelope(envelope: { tenantId: string; streamId: string; type: string }): string {
    return this.eventSubject(envelope.tenantId, parseStreamId(envelope.streamId).category, envelope.type);
  }

  /** What an external subscriber filters on, e.g. one tenant's run events. */
  tenantCategoryFilter(tenantId: string, category: StreamCategory): string {
    return `${this.eventsSubjectPrefix}.${tenantId}.${category}.>`;
  }

  get allEvents(): string {
    return `${this.eventsSubjectPrefix}.>`;
  }

  /** `cronicorn.dispatch.<tenantId>.<endpointId>`. */
  dispatchSubject(tenantId: string, endpointId: string): string {
    return `${this.dispatchSubjectPrefix}.${tenantId}.${endpointId}`;
  }

  get allDispatch(): string {
    return `${this.dispatchSubjectPrefix}.>`;
  }
}

export const DEFAULT_NATS_NAMES = new NatsNames();
