/** Stream categories; the first segment of a stream id and the fourth token of a subject. */
export const STREAM_CATEGORIES = ['tenant', 'job', 'endpoint', 'schedule', 'run', 'planner'] as const;
export type StreamCategory = (typeof STREAM_CATEGORIES)[number];

export const streamIds = {
  tenant: (tenantId: string) => `tenant-${tenantId}`,
  job: (jobId: string) => `job-${jobId}`,
  endpoint: (endpointId: string) => `endpoint-${endpointId}`,
  schedule: (endpointId: string) => `schedule-${endpointId}`,
  run: (runId: string) => `run-${runId}`,
  planner: (endpointId: string) => `planner-${endpointId}`,
} as const satisfies Record<StreamCategory, (id: string) => string>;

/** `endpoint-4f1c…` → `{ category: 'endpoint', id: '4f1c…' }`. Ids may contain dashes. */
export function parseStreamId(streamId: string): { category: StreamCategory; id: string } {
  const dash = streamId.indexOf('-');
  const category = streamId.slice(0, dash) as StreamCategory;
  if (dash <= 0 || !STREAM_CATEGORIES.includes(category)) {
    throw new Error(`Unknown stream category in stream id "${streamId}"`);
  }
  return { category, id: streamId.slice(dash + 1) };
}

/**
 * The endpoint an event is about: the id of endpoint, schedule and planner streams, a run
 * event's `data.endpointId`; otherwise the stream itself. Consumers partition work by it so
 * that events touching one endpoint's rows are handled in order, by one transaction at a time.
 */
export function endpointKeyOf(envelope: { streamId: string; data: unknown }): string {
  const { category, id } = parseStreamId(envelope.streamId);
  if (category === 'endpoint' || category === 'schedule' || category === 'planner') return id;
  const endpointId = (envelope.data as { endpointId?: unknown } | null)?.endpointId;
  return typeof endpointId === 'string' ? endpointId : envelope.streamId;
}
