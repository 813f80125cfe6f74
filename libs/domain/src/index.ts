export * from './core/decider';
export * from './core/errors';
export * from './core/command';
export * from './tenant/tenant.commands';
export { type ApiKeyState, type TenantState } from './tenant/tenant.state';
export { tenantDecider, TENANT_LIMITS } from './tenant/tenant.decider';
export * from './job/job.commands';
export { type JobPause, type JobState, type JobStatus, jobPauseAt } from './job/job.state';
export { jobDecider, JOB_LIMITS } from './job/job.decider';
export * from './endpoint/endpoint.commands';
export {
  type ActiveHint,
  type EndpointPause,
  type EndpointState,
  type EndpointStatus,
  activeHints,
  endpointPauseAt,
  RECENT_RUN_IDS,
} from './endpoint/endpoint.state';
export { endpointDecider } from './endpoint/endpoint.decider';
export * from './endpoint/endpoint.config';
export * from './endpoint/endpoint.hints';
export * from './schedule';
export * from './templates/request-template';
export * from './planner';
export * from './subscription/subscription.commands';
export {
  type SubscriptionsState,
  type WebhookSubscriptionState,
  activeSubscriptions,
} from './subscription/subscription.state';
export {
  subscriptionDecider,
  subscriptionMatches,
  SUBSCRIPTION_LIMITS,
  ALL_EVENT_TYPES_WILDCARD,
} from './subscription/subscription.decider';
