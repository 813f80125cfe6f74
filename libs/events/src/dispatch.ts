import { EndpointConfig } from './endpoint/endpoint.events';
import { RunTrigger } from './run/run.events';

/**
 * A due run handed from the scheduler to the dispatchers on `cronicorn.dispatch.<tenantId>.
 * <endpointId>` (work-queue stream CRONICORN_DISPATCH, `Nats-Msg-Id` = runId). It carries the
 * request as it was configured when the run was planned; secret headers stay encrypted.
 */
export interface DispatchWorkItem {
  runId: string;
  tenantId: string;
  jobId: string;
  endpointId: string;
  scheduledFor: string;
  trigger: RunTrigger;
  retryOf: string | null;
  correlationId: string | null;
  request: Pick<
    EndpointConfig,
    'url' | 'method' | 'headers' | 'secretHeaders' | 'body' | 'timeoutMs' | 'maxAttempts'
  >;
  /** Values a request body template may reference (`{{trigger.payload.x}}`). */
  templateContext: Record<string, unknown> | null;
}
