import { DispatchWorkItem, RunTrigger } from '@cronicorn/events';
import { PoisonMessageError } from '@cronicorn/messaging';

const TRIGGERS: readonly RunTrigger[] = ['schedule', 'manual', 'trigger', 'retry'];

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const isStringRecord = (value: unknown): value is Record<string, string> =>
  isRecord(value) && Object.values(value).every((entry) => typeof entry === 'string');

const nonEmpty = (value: unknown): value is string => typeof value === 'string' && value !== '';

/**
 * Reads a work item off the queue. A payload that cannot be a work item will never become
 * one on a retry, so it is a {@link PoisonMessageError} (dead-lettered at once).
 */
export function parseWorkItem(payload: string): DispatchWorkItem {
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    throw new PoisonMessageError('work item is not JSON');
  }
  const problems: string[] = [];
  const check = (ok: boolean, field: string) => ok || problems.push(field);
  if (!isRecord(value)) throw new PoisonMessageError('work item is not an object');
  for (const field of ['runId', 'tenantId', 'jobId', 'endpointId'] as const)
    check(nonEmpty(value[field]), field);
  check(nonEmpty(value.scheduledFor) && !Number.isNaN(Date.parse(value.scheduledFor)), 'scheduledFor');
  check(TRIGGERS.includes(value.trigger as RunTrigger), 'trigger');
  check(value.retryOf === null || nonEmpty(value.retryOf), 'retryOf');
  check(
    value.correlationId === null || value.correlationId === undefined || nonEmpty(value.correlationId),
    'correlationId',
  );
  check(
    value.templateContext === null || value.templateContext === undefined || isRecord(value.templateContext),
    'templateContext',
  );
  const request = value.request;
  if (!isRecord(request)) {
    problems.push('request');
  } else {
    check(nonEmpty(request.url), 'request.url');
    check(nonEmpty(request.method), 'request.method');
    check(isStringRecord(request.headers), 'request.headers');
    check(isStringRecord(request.secretHeaders), 'request.secretHeaders');
    check(typeof request.timeoutMs === 'number', 'request.timeoutMs');
    check(typeof request.maxAttempts === 'number', 'request.maxAttempts');
  }
  if (problems.length > 0)
    throw new PoisonMessageError(`work item has invalid fields: ${problems.join(', ')}`);
  const item = value as unknown as DispatchWorkItem;
  return {
    ...item,
    correlationId: item.correlationId ?? null,
    templateContext: item.templateContext ?? null,
  };
}
