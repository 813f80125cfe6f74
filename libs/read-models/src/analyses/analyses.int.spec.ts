import { createTestDatabase, TestDatabase } from '@cronicorn/testing';
import { analysisCompleted, analysisFailed, at, History, newId } from '../../test/fixtures';
import { getAnalysis, listAnalyses } from './analyses.queries';

jest.setTimeout(30_000);

describe('Analyses read model', () => {
  let db: TestDatabase;
  let history: History;

  beforeAll(async () => {
    db = await createTestDatabase();
    history = new History(db.pool);
  });
  afterAll(() => db.drop());

  describe('When the planner completes and fails analyses', () => {
    it('should list them newest first with their tool calls, tokens and failures', async () => {
      const tenant = history.tenant();
      const endpointId = newId('endpoint');
      const completed = analysisCompleted(endpointId, 1, { in: 1200, out: 80 });
      const failed = analysisFailed(endpointId, 2);
      const base = analysisCompleted(endpointId, 3, { in: 0, out: 0 });
      const heuristic = {
        ...base,
        data: { ...base.data, planner: 'heuristic' as const, model: 'heuristic-v1' },
      };
      await tenant.plannerEvent(endpointId, completed, failed, heuristic);

      const page = await listAnalyses(db.pool, tenant.tenantId, endpointId, { limit: 2 });
      expect(page.items.map((a) => a.id)).toEqual([heuristic.data.analysisId, failed.data.analysisId]);
      expect(page.items[1]).toEqual({
        id: failed.data.analysisId,
        tenantId: tenant.tenantId,
        endpointId,
        status: 'failed',
        planner: 'ai',
        model: 'gpt-test',
        tokensIn: 0,
        tokensOut: 0,
        toolCalls: [],
        summary: null,
        failureReason: 'timeout',
        error: 'LLM did not answer in 30 s',
        at: at(2),
      });
      const rest = await listAnalyses(db.pool, tenant.tenantId, endpointId, { cursor: page.nextCursor });
      expect(rest.items).toEqual([
        expect.objectContaining({
          id: completed.data.analysisId,
          status: 'completed',
          planner: 'ai',
          tokensIn: 1200,
          tokensOut: 80,
          toolCalls: completed.data.toolCalls,
          summary: 'tightened while failing',
        }),
      ]);
      expect(rest.nextCursor).toBeNull();

      const onlyFailed = await listAnalyses(db.pool, tenant.tenantId, endpointId, { status: 'failed' });
      expect(onlyFailed.items.map((a) => a.id)).toEqual([failed.data.analysisId]);
      expect(await getAnalysis(db.pool, tenant.tenantId, heuristic.data.analysisId)).toMatchObject({
        planner: 'heuristic',
        model: 'heuristic-v1',
      });
      expect(await getAnalysis(db.pool, history.tenant().tenantId, heuristic.data.analysisId)).toBeNull();
      expect((await listAnalyses(db.pool, history.tenant().tenantId, endpointId)).items).toEqual([]);
    });
  });
});
