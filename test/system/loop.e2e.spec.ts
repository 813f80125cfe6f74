import { APP_NAMES, CronicornSystem, eventually, Json, TenantClient, waitFor } from './system-harness';

// The scheduling loop over the five real apps: command-api → events → scheduler → dispatch
// work queue → dispatcher → the target, and the projector's read models back to the API.

jest.setTimeout(120_000);

interface EndpointView {
  id: string;
  status: string;
  effectiveStatus: string;
  nextRunAt: string | null;
  nextRunReason: string | null;
  nextRun: { runId: string; at: string; reason: string } | null;
  lastRun: { runId: string; status: string; httpStatus: number | null; startedAt: string } | null;
  failureStreak: number;
  runsCount: number;
}

interface RunView {
  id: string;
  endpointId: string;
  status: string;
  trigger: string;
  scheduledFor: string;
  startedAt: string;
  httpStatus: number | null;
}

interface RunPage {
  items: RunView[];
  nextCursor: string | null;
}

const gaps = (times: number[]) => times.slice(1).map((t, i) => t - times[i]);

describe('The scheduling loop (one process of each app)', () => {
  let system: CronicornSystem;
  let tenant: TenantClient;
  let jobId: string;

  beforeAll(async () => {
    system = await CronicornSystem.start();
    tenant = await system.createTenant();
    jobId = await tenant.createJob('loop');
  }, 90_000);

  afterAll(async () => {
    await system?.stop();
  });

  const endpoint = (id: string) => tenant.get<EndpointView>(`/v1/endpoints/${id}`);
  const runs = (id: string, query = '') => tenant.get<RunPage>(`/v1/endpoints/${id}/runs?limit=100${query}`);
  const hits = (path: string) => system.target.hitsOf(path);

  describe('When an endpoint runs every second', () => {
    const path = '/loop/interval';
    let endpointId: string;

    it('calls the target at least 5 times within 6.5 s, about a second apart', () =>
      system.withLogs(async () => {
        const createdAt = Date.now();
        endpointId = await tenant.createEndpoint(jobId, { url: system.target.url(path), intervalMs: 1_000 });
        await waitFor(
          '5 requests at the target',
          () => hits(path).length >= 5,
          6_500 - (Date.now() - createdAt),
        );

        const times = hits(path).map((hit) => hit.at);
        for (const gap of gaps(times)) {
          expect(gap).toBeGreaterThanOrEqual(700);
          expect(gap).toBeLessThanOrEqual(1_600);
        }
        expect(hits(path)[0]).toMatchObject({ method: 'GET' });
      }));

    it('shows the next run with its reason and the last run on GET /v1/endpoints/:id', () =>
      system.withLogs(async () => {
        const view = await eventually(async () => {
          const current = await endpoint(endpointId);
          expect(current.lastRun).not.toBeNull();
          expect(current.nextRunAt).not.toBeNull();
          return current;
        }, 10_000);
        expect(view).toMatchObject({ id: endpointId, status: 'active', effectiveStatus: 'active' });
        expect(typeof view.nextRunReason).toBe('string');
        expect(view.nextRunReason).toMatch(/interval/);
        expect(view.nextRun).toMatchObject({ at: view.nextRunAt, reason: view.nextRunReason });
        expect(Number.isNaN(Date.parse(view.nextRunAt ?? ''))).toBe(false);
        expect(view.lastRun).toMatchObject({ status: expect.stringMatching(/^(running|success)$/) });
        expect(view.failureStreak).toBe(0);
      }));

    it('lists the runs on GET /v1/endpoints/:id/runs, each a success', () =>
      system.withLogs(async () => {
        const page = await eventually(async () => {
          const current = await runs(endpointId, '&status=success');
          expect(current.items.length).toBeGreaterThanOrEqual(5);
          return current;
        }, 10_000);
        for (const run of page.items) {
          expect(run).toMatchObject({ endpointId, status: 'success', httpStatus: 200, trigger: 'schedule' });
        }
        expect(new Set(page.items.map((run) => run.id)).size).toBe(page.items.length);
        const all = await runs(endpointId);
        expect(all.items.filter((run) => run.status === 'failed')).toEqual([]);
      }));

    it('stops calling once paused: nothing for 3 s after the pause settled (one call may be in flight)', () =>
      system.withLogs(async () => {
        await tenant.post(`/v1/endpoints/${endpointId}/pause`, { reason: 'e2e' });
        const atPause = hits(path).length;
        await eventually(async () => {
          const view = await endpoint(endpointId);
          expect(view).toMatchObject({ status: 'paused', nextRunAt: null });
        }, 10_000);
        const settled = Date.now();
        // Absence of calls can only be observed over time.
        await waitFor('3 s of silence', () => Date.now() - settled >= 3_000, 4_000);
        expect(hits(path).length).toBeLessThanOrEqual(atPause + 1);
      }));

    it('calls the target again once resumed', () =>
      system.withLogs(async () => {
        const before = hits(path).length;
        await tenant.post(`/v1/endpoints/${endpointId}/resume`);
        await waitFor('2 more requests after the resume', () => hits(path).length >= before + 2, 6_000);
        await eventually(async () => expect(await endpoint(endpointId)).toMatchObject({ status: 'active' }));
      }));

    afterAll(async () => {
      if (endpointId) await tenant.delete(`/v1/endpoints/${endpointId}`).catch(() => undefined);
    });
  });

  describe('When an endpoint is to run once, 2 s from now', () => {
    const path = '/loop/once';
    let endpointId: string;

    it('calls the target exactly once, not before its time', () =>
      system.withLogs(async () => {
        const runAt = Date.now() + 2_000;
        endpointId = await tenant.createEndpoint(jobId, {
          url: system.target.url(path),
          runAt: new Date(runAt).toISOString(),
        });
        await waitFor('the one-time request', () => hits(path).length >= 1, 8_000);
        const called = Date.now();
        expect(hits(path)[0].at).toBeGreaterThanOrEqual(runAt);
        await waitFor('4 s more', () => Date.now() - called >= 4_000, 5_000);
        expect(hits(path)).toHaveLength(1);
        await eventually(async () => {
          const view = await endpoint(endpointId);
          expect(view.lastRun).toMatchObject({ status: 'success' });
          expect(view.runsCount).toBe(1);
        }, 10_000);
      }));

    it('shows no next run once that run is done', () =>
      system.withLogs(async () => {
        const view = await endpoint(endpointId);
        expect(view.lastRun).toMatchObject({ status: 'success' });
        expect(view.nextRun).toBeNull();
        expect(view.nextRunAt).toBeNull();
        expect(view.nextRunReason).toBe('ended:once');
      }));
  });

  describe('When a run is triggered by hand', () => {
    it('makes exactly one extra request, recorded as a manual run', () =>
      system.withLogs(async () => {
        const path = '/loop/manual';
        // A yearly schedule: no scheduled run falls inside this test.
        const endpointId = await tenant.createEndpoint(jobId, {
          url: system.target.url(path),
          cron: '0 0 1 1 *',
          timezone: 'UTC',
        });
        await eventually(async () => expect((await endpoint(endpointId)).nextRunAt).not.toBeNull(), 10_000);
        expect(hits(path)).toHaveLength(0);

        const { runId } = await tenant.post<Json & { runId: string }>(`/v1/endpoints/${endpointId}/trigger`);
        await waitFor('the triggered request', () => hits(path).length >= 1, 10_000);
        const run = await eventually(async () => {
          const page = await runs(endpointId);
          expect(page.items).toHaveLength(1);
          expect(page.items[0]).toMatchObject({ id: runId, trigger: 'manual', status: 'success' });
          return page.items[0];
        }, 10_000);
        expect(run.id).toBe(runId);
        const settled = Date.now();
        await waitFor('2 s more', () => Date.now() - settled >= 2_000, 3_000);
        expect(hits(path)).toHaveLength(1);
        const view = await endpoint(endpointId);
        expect(view.nextRunAt).not.toBeNull();
        expect(Date.parse(view.nextRunAt ?? '')).toBeGreaterThan(Date.now() + 3_600_000);
      }));
  });

  describe('When the target fails', () => {
    it('records failed runs and a failure streak on the endpoint', () =>
      system.withLogs(async () => {
        const path = '/fail/loop';
        const endpointId = await tenant.createEndpoint(jobId, {
          url: system.target.url(path),
          intervalMs: 1_000,
        });
        const page = await eventually(async () => {
          const current = await runs(endpointId);
          expect(current.items.filter((run) => run.status === 'failed').length).toBeGreaterThanOrEqual(2);
          return current;
        }, 15_000);
        for (const run of page.items.filter((item) => item.status !== 'running')) {
          expect(run).toMatchObject({ status: 'failed', httpStatus: 500 });
        }
        // lastRun is the newest run by start, so the next run may be in flight when it is read.
        await eventually(async () => {
          const current = await endpoint(endpointId);
          expect(current.failureStreak).toBeGreaterThanOrEqual(2);
          expect(current.lastRun).toMatchObject({ status: 'failed', httpStatus: 500 });
        }, 10_000);
        expect(hits(path).length).toBeGreaterThanOrEqual(2);
        await tenant.delete(`/v1/endpoints/${endpointId}`);
      }));
  });

  describe('When the target drops a kept-alive connection just as the next request is sent on it', () => {
    // The race every keep-alive client meets: the server closes an idle connection while the
    // client reuses it. The request never reached the server, so it is sent again on a new
    // connection (what Node's docs advise for `req.reusedSocket` with ECONNRESET, and what
    // undici does) rather than recorded as a failed run against a healthy target.
    it('sends the request again on a new connection: the runs succeed', () =>
      system.withLogs(async () => {
        const path = '/drop-reused/loop';
        const endpointId = await tenant.createEndpoint(jobId, {
          url: system.target.url(path),
          intervalMs: 1_000,
        });
        const finished = await eventually(async () => {
          const page = await runs(endpointId);
          const done = page.items.filter((run) => run.status !== 'running');
          expect(done.length).toBeGreaterThanOrEqual(3);
          return done;
        }, 20_000);
        await tenant.delete(`/v1/endpoints/${endpointId}`);
        // (A dispatcher that never reuses connections passes too: nothing is dropped then.)
        expect(finished.filter((run) => run.status !== 'success')).toEqual([]);
      }));
  });
  describe('When Prometheus scrapes every app', () => {
    const shared = [
      'cronicorn_http_request_duration_seconds',
      'cronicorn_events_appended_total',
      'cronicorn_relay_published_events_total',
      'cronicorn_relay_lag_seconds',
      'cronicorn_consumer_pending_messages',
      'cronicorn_consumer_ack_pending_messages',
    ];
    const own: Record<string, string[]> = {
      'command-api': [],
      scheduler: [
        'cronicorn_scheduler_runs_dispatched_total',
        'cronicorn_scheduler_dispatch_lateness_seconds',
      ],
      dispatcher: [
        'cronicorn_dispatcher_runs_total',
        'cronicorn_dispatcher_run_lateness_seconds',
        'cronicorn_dispatcher_run_duration_seconds',
      ],
      'ai-planner': [
        'cronicorn_ai_planner_analyses_total',
        'cronicorn_ai_planner_tokens_total',
        'cronicorn_ai_planner_tool_calls_total',
      ],
      projector: ['cronicorn_projector_lag_seconds'],
    };

    it.each(Object.keys(own))('should expose the named metrics on /metrics of %s', async (app) => {
      const [instance] = system.of(app as (typeof APP_NAMES)[number]);
      const text = await (await fetch(`http://127.0.0.1:${instance.port}/metrics`)).text();
      const declared = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((match) => match[1]));
      expect([...shared, ...own[app]].filter((name) => !declared.has(name))).toEqual([]);
    });

    it('should count runs by status on the dispatcher', async () => {
      const [dispatcher] = system.of('dispatcher');
      const text = await (await fetch(`http://127.0.0.1:${dispatcher.port}/metrics`)).text();
      expect(text).toMatch(/^cronicorn_dispatcher_runs_total\{status="success",app="dispatcher"\} [1-9]/m);
      expect(text).toMatch(/^cronicorn_dispatcher_runs_total\{status="failed",app="dispatcher"\} [1-9]/m);
    });
  });
});
