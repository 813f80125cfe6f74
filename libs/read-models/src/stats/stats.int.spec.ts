import { createTestDatabase, TestDatabase } from '@cronicorn/testing';
import {
  analysisCompleted,
  analysisFailed,
  at,
  endpointCreated,
  History,
  newId,
  RunSpec,
  TenantHistory,
} from '../../test/fixtures';
import { endpointHealth, jobStats, RunStats, tenantStats } from './stats.queries';

jest.setTimeout(60_000);

const nearestRank = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1];
};

function expectPercentilesNear(summary: RunStats['latencyMs'], values: number[]): void {
  expect(summary.count).toBe(values.length);
  for (const [q, estimate] of [
    [0.5, summary.p50],
    [0.95, summary.p95],
    [0.99, summary.p99],
  ] as const) {
    const truth = nearestRank(values, q);
    expect(Math.abs((estimate as number) - truth) / truth).toBeLessThanOrEqual(0.19);
  }
  expect(summary.min).toBe(Math.min(...values));
  expect(summary.max).toBe(Math.max(...values));
}

describe('Run statistics read model', () => {
  let db: TestDatabase;
  let history: History;
  let tenant: TenantHistory;
  let jobA: string;
  let jobB: string;
  let e1: string;
  let e2: string;
  const runs: RunSpec[] = [];

  // Given: 100 runs of e1 (job A) over minutes 0..99 (two UTC hours), 10 runs of e2 (job B)
  // at exactly 50 ms, a missed plan, three skipped slots and three analyses.
  beforeAll(async () => {
    db = await createTestDatabase();
    history = new History(db.pool);
    tenant = history.tenant();
    jobA = await tenant.job('a');
    jobB = await tenant.job('b');
    e1 = await tenant.endpoint(jobA);
    e2 = newId('endpoint');
    // e2's analysis arrives before its EndpointCreated: its hour learns the job later.
    await tenant.plannerEvent(e2, analysisCompleted(e2, 20, { in: 50, out: 5 }));
    await tenant.endpointEvent(e2, endpointCreated(e2, jobB));

    for (let i = 1; i <= 100; i++) {
      const spec: RunSpec = {
        status: i % 10 === 0 ? 'failed' : i % 25 === 5 ? 'timeout' : 'success',
        startedAtMin: i - 1,
        durationMs: i * 10,
        lateMs: i * 5,
        trigger: i % 4 === 0 ? 'manual' : 'schedule',
      };
      runs.push(spec);
      await tenant.run(e1, jobA, spec);
    }
    for (let i = 0; i < 10; i++)
      await tenant.run(e2, jobB, { status: 'success', startedAtMin: i, durationMs: 50 });
    await tenant.scheduleEvent(
      e1,
      {
        type: 'RunMissed',
        data: {
          endpointId: e1,
          runId: newId('run'),
          scheduledFor: at(30),
          lateMs: 90_000,
          budgetMs: 60_000,
          detectedAt: at(31),
        },
      },
      {
        type: 'RunSkipped',
        data: {
          endpointId: e1,
          runId: null,
          scheduledFor: at(40),
          policy: 'catch_up',
          reason: 'downtime',
          count: 3,
          skippedAt: at(41),
        },
      },
    );
    await tenant.plannerEvent(
      e1,
      analysisCompleted(e1, 15, { in: 100, out: 20 }),
      analysisFailed(e1, 16, { in: 30, out: 2 }),
    );
  });
  afterAll(() => db.drop());

  describe('When the tenant asks for its statistics', () => {
    it('should count runs by status and estimate latency and lateness percentiles from buckets', async () => {
      const stats = await tenantStats(db.pool, tenant.tenantId, new Date(at(0)), new Date(at(120)));

      expect(stats.from).toBe(at(0));
      expect(stats.to).toBe(at(120));
      const count = (status: RunSpec['status']) => runs.filter((r) => r.status === status).length;
      expect(count('timeout')).toBe(2);
      expect(stats.runs).toEqual({
        total: 110,
        success: count('success') + 10,
        failed: count('failed'),
        timeout: count('timeout'),
        missed: 1,
        skipped: 3,
      });
      expect(stats.successRate).toBeCloseTo((count('success') + 10) / 110, 10);
      expectPercentilesNear(stats.latencyMs, [
        ...runs.map((r) => r.durationMs as number),
        ...Array(10).fill(50),
      ]);
      expectPercentilesNear(stats.latenessMs, [
        ...runs.filter((r) => r.trigger === 'schedule').map((r) => r.lateMs as number),
        ...Array(10).fill(0),
      ]);
      expect(stats.ai).toEqual({ analyses: 2, failed: 1, tokensIn: 180, tokensOut: 27 });
    });

    it('should only include the whole UTC hours the window overlaps', async () => {
      const secondHour = await tenantStats(db.pool, tenant.tenantId, new Date(at(75)), new Date(at(80)));
      expect(secondHour.from).toBe(at(60));
      expect(secondHour.to).toBe(at(120));
      const inSecondHour = runs.filter((r) => r.startedAtMin >= 60);
      expect(secondHour.runs.total).toBe(inSecondHour.length);
      expect(secondHour.runs.failed).toBe(inSecondHour.filter((r) => r.status === 'failed').length);
      expect(secondHour.ai.analyses).toBe(0);

      const later = await tenantStats(db.pool, tenant.tenantId, new Date(at(180)), new Date(at(240)));
      expect(later.runs.total).toBe(0);
      expect(later.successRate).toBeNull();
      expect(later.latencyMs.p50).toBeNull();
    });

    it('should see nothing of another tenant', async () => {
      const stats = await tenantStats(db.pool, history.tenant().tenantId, new Date(at(0)), new Date(at(120)));
      expect(stats.runs.total).toBe(0);
    });
  });

  describe('When a job asks for its statistics', () => {
    it('should count only its own endpoints, including hours recorded before the endpoint was', async () => {
      const b = await jobStats(db.pool, tenant.tenantId, jobB, new Date(at(0)), new Date(at(120)));
      expect(b.runs).toEqual({ total: 10, success: 10, failed: 0, timeout: 0, missed: 0, skipped: 0 });
      expect(b.latencyMs).toEqual({ count: 10, avg: 50, min: 50, max: 50, p50: 50, p95: 50, p99: 50 });
      expect(b.ai).toEqual({ analyses: 1, failed: 0, tokensIn: 50, tokensOut: 5 });

      const a = await jobStats(db.pool, tenant.tenantId, jobA, new Date(at(0)), new Date(at(120)));
      expect(a.runs.total).toBe(100);
      expect(a.ai.tokensIn).toBe(130);
    });
  });

  describe('When the endpoint health is asked for', () => {
    it('should give success rate, failure streak and latency over the last hour and day', async () => {
      const health = await endpointHealth(db.pool, tenant.tenantId, e1, { now: new Date(at(125)) });
      const lastHour = runs.filter((r) => r.startedAtMin >= 60);
      const success = lastHour.filter((r) => r.status === 'success').length;

      expect(health).toMatchObject({
        endpointId: e1,
        failureStreak: 1,
        lastHour: {
          from: at(60),
          to: at(180),
          runs: { total: lastHour.length, success },
          successRate: success / lastHour.length,
        },
        lastDay: { from: at(-1320), runs: { total: 100, success: 88, failed: 10, timeout: 2 } },
      });
      const truth = nearestRank(
        lastHour.map((r) => r.durationMs as number),
        0.95,
      );
      expect(Math.abs((health?.lastHour.latencyMs.p95 as number) - truth) / truth).toBeLessThanOrEqual(0.19);
      expect(await endpointHealth(db.pool, history.tenant().tenantId, e1)).toBeNull();
    });
  });
});
