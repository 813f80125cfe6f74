import { EndpointEvent, EndpointEventTypes } from './endpoint/endpoint.events';
import { JobEvent, JobEventTypes } from './job/job.events';
import { PlannerEvent, PlannerEventTypes } from './planner/planner.events';
import { RunEvent, RunEventTypes } from './run/run.events';
import { ScheduleEvent, ScheduleEventTypes } from './schedule/schedule.events';
import { StreamCategory } from './streams';
import { TenantEvent, TenantEventTypes } from './tenant/tenant.events';

/** Every event of catalogue v1 (DESIGN §4). */
export type CronicornEvent = TenantEvent | JobEvent | EndpointEvent | ScheduleEvent | RunEvent | PlannerEvent;
export type CronicornEventType = CronicornEvent['type'];
export type EventOfType<T extends CronicornEventType> = Extract<CronicornEvent, { type: T }>;

export const EventTypesByCategory = {
  tenant: TenantEventTypes,
  job: JobEventTypes,
  endpoint: EndpointEventTypes,
  schedule: ScheduleEventTypes,
  run: RunEventTypes,
  planner: PlannerEventTypes,
} as const satisfies Record<StreamCategory, readonly CronicornEventType[]>;

export const ALL_EVENT_TYPES: readonly CronicornEventType[] = Object.values(EventTypesByCategory).flat();

/**
 * The schema version written for each type today. Bump it only together with an upcaster
 * from the previous version (see upcasters.ts), so readers only ever see the newest shape.
 */
export const CURRENT_SCHEMA_VERSION: Record<CronicornEventType, number> = Object.fromEntries(
  ALL_EVENT_TYPES.map((type) => [type, 1]),
) as Record<CronicornEventType, number>;

export function isCronicornEventType(type: string): type is CronicornEventType {
  return (ALL_EVENT_TYPES as readonly string[]).includes(type);
}
