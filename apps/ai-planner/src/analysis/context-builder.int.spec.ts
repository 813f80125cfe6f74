import { EndpointEvent } from '@cronicorn/events';
import { endpointDecider, fold } from '@cronicorn/domain';
import { createTestDatabase, TestDatabase } from '@cronicorn/testing';
import { endpointCreated, History } from '../../../../libs/read-models/test/fixtures';
import { ContextBuilder, DEFAULT_CONTEXT_LIMITS } from './context-builder';

describe('ContextBuilder', () => {
  let db: TestDatabase;
  let history: History;

  beforeAll(async () => {
    db = await createTestDatabase();
    history = new History(db.pool);
  });
  afterAll(() => db.drop());

  it("should show the job's other endpoints (the heuristic's sibling rule and the prompt read them)", async () => {
    const tenant = history.tenant();
    const jobId = await tenant.job();
    const [endpointId, ...others] = [
      await tenant.endpoint(jobId, { name: 'self' }),
      await tenant.endpoint(jobId, { name: 'first sibling' }, 1),
      await tenant.endpoint(jobId, { name: 'second sibling' }, 2),
    ];
    const created = endpointCreated(endpointId, jobId, { name: 'self' }) as EndpointEvent;
    const endpoint = fold(endpointDecider, [created]);
    if (endpoint.status !== 'active') throw new Error('the endpoint should be active');
    const now = new Date();

    const withSiblings = await new ContextBuilder(db.pool, DEFAULT_CONTEXT_LIMITS).build(
      tenant.tenantId,
      endpoint,
      now,
      0,
    );
    expect(withSiblings.siblings.map((sibling) => sibling.endpointId).sort()).toEqual([...others].sort());

    expect(withSiblings.endpointId).toBe(endpointId);
  });
});
