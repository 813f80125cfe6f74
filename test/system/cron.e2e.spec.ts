import { CronicornSystem, eventually, TenantClient, waitFor } from './system-harness';

// A cron endpoint fires exactly at the minute boundary. Rather than wait up to a minute, the
// apps run with CRONICORN_CLOCK_OFFSET_MS chosen so that their clock crosses a minute boundary
// a few seconds after the endpoint is created.

jest.setTimeout(240_000);

const MINUTE = 60_000;
/** How long the five apps are expected to take to become ready (a guess; checked below). */
const EXPECTED_STARTUP_MS = 12_000;
/** App time between creating the endpoint and the boundary. */
const LEAD_MS = 5_000;
/** Less than this left before the boundary once ready: start again with a new offset. */
const MIN_LEAD_MS = 2_500;

interface EventView {
  type: string;
  streamId: string;
  position: string;
  data: Record<string, unknown>;
}

interface RunView {
  id: string;
  status: string;
  trigger: string;
  scheduledFor: string;
  startedAt: string;
  lateMs: number;
}

/**
 * The apps' clock is `Date.now() + offset`, ahead of the wall clock (never behind: the
 * command-api stamps creation times with the wall clock, and a cron slot before the
 * endpoint's creation is never run). Picks the boundary at least the startup plus the lead
 * ahead of now in app time, with the offset in [0, 1 min).
 */
function clockFor(startupMs: number): { offsetMs: number; boundary: number } {
  const readyAt = Date.now() + startupMs + LEAD_MS;
  const boundary = Math.ceil(readyAt / MINUTE) * MINUTE;
  return { offsetMs: boundary - readyAt, boundary };
}

describe('A cron endpoint (`* * * * *`, UTC)', () => {
  let system: CronicornSystem;
  let tenant: TenantClient;
  let boundary: number;

  beforeAll(async () => {
    let startupMs = EXPECTED_STARTUP_MS;
    for (let attempt = 1; ; attempt++) {
      const started = Date.now();
      const clock = clockFor(startupMs);
      system = await CronicornSystem.start({ clockOffsetMs: clock.offsetMs });
      tenant = await system.createTenant();
      boundary = clock.boundary;
      if (boundary - system.appNow() >= MIN_LEAD_MS) break;
      // Slower than expected: the boundary is (almost) past. Again, with the time it took.
      startupMs = Date.now() - started + 2_000;
      await system.stop();
      if (attempt === 3) throw new Error(`the apps took ${startupMs} ms to start, three times`);
    }
  }, 200_000);

  afterAll(async () => {
    await system?.stop();
  });

  it('runs at the minute boundary of the apps clock: scheduledFor is exactly it, the call within 3 s', () =>
    system.withLogs(async () => {
      const path = '/cron/every-minute';
      const jobId = await tenant.createJob('cron');
      const endpointId = await tenant.createEndpoint(jobId, {
        url: system.target.url(path),
        cron: '* * * * *',
        timezone: 'UTC',
      });
      const createdAt = system.appNow();
      expect(boundary - createdAt).toBeGreaterThan(1_000);
      const at = new Date(boundary).toISOString();

      // The plan is made ahead of time, for the boundary.
      const planned = await eventually(async () => {
        const { events } = await tenant.get<{ events: EventView[] }>(
          `/v1/events?streamId=schedule-${endpointId}&type=NextRunPlanned&limit=50`,
        );
        expect(events.length).toBeGreaterThanOrEqual(1);
        return events[0];
      }, 10_000);
      expect(planned.data).toMatchObject({ runAt: at, reason: 'cron' });
      expect(system.target.hitsOf(path)).toHaveLength(0);

      await waitFor(
        'the cron call',
        () => system.target.hitsOf(path).length >= 1,
        boundary - createdAt + 10_000,
      );
      const calledAt = system.target.hitsOf(path)[0].at + system.clockOffsetMs;
      expect(calledAt).toBeGreaterThanOrEqual(boundary);
      expect(calledAt).toBeLessThanOrEqual(boundary + 3_000);

      const run = await eventually(async () => {
        const { items } = await tenant.get<{ items: RunView[] }>(`/v1/endpoints/${endpointId}/runs`);
        expect(items).toHaveLength(1);
        expect(items[0].status).toBe('success');
        return items[0];
      }, 10_000);
      expect(run).toMatchObject({ id: planned.data.runId, trigger: 'schedule', scheduledFor: at });
      expect(Date.parse(run.startedAt)).toBeGreaterThanOrEqual(boundary);
      expect(run.lateMs).toBeGreaterThanOrEqual(0);
      expect(run.lateMs).toBeLessThanOrEqual(3_000);

      const { events } = await tenant.get<{ events: EventView[] }>(
        `/v1/events?streamId=run-${run.id}&type=RunStarted`,
      );
      expect(events).toHaveLength(1);
      expect(events[0].data).toMatchObject({ scheduledFor: at, startedAt: run.startedAt });

      // The next plan is the following minute.
      await eventually(async () => {
        const view = await tenant.get<{ nextRunAt: string | null; nextRunReason: string | null }>(
          `/v1/endpoints/${endpointId}`,
        );
        expect(view).toMatchObject({
          nextRunAt: new Date(boundary + MINUTE).toISOString(),
          nextRunReason: 'cron',
        });
      }, 10_000);
    }));
});
