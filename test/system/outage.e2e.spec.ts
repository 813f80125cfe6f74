import { RunAudit } from './run-audit';
import { CronicornSystem, eventually, TenantClient, waitFor } from './system-harness';
import type { TcpProxy } from '@cronicorn/testing';

// Postgres and NATS go away for a second, several times each, while endpoints run: every app
// rides it out (README: apps retry in the background, /readyz says 503 meanwhile), no process
// dies of it, and the log shows no run lost or doubled: each handed out, started, finished and
// called once.

jest.setTimeout(240_000);

const ENDPOINTS = 5;
const BLIPS = 3;
/** Outages hold plans back by design; a plan this late past its time counts as lost. */
const OVERDUE_LIMIT_MS = 20_000;

describe('Postgres and NATS blips while endpoints run (every app through TCP proxies)', () => {
  let system: CronicornSystem;
  let tenant: TenantClient;
  let runs: RunAudit;

  beforeAll(async () => {
    system = await CronicornSystem.start({ postgresProxy: true, natsProxy: true });
    tenant = await system.createTenant();
    runs = new RunAudit(system, tenant, OVERDUE_LIMIT_MS);
  }, 120_000);

  afterAll(async () => {
    await system?.stop();
  });

  /** Cuts every connection through `proxy` and refuses new ones for a second. */
  async function outage(proxy: TcpProxy): Promise<void> {
    await proxy.pause();
    const cutAt = Date.now();
    await waitFor('a second without it', () => Date.now() - cutAt >= 1_000, 2_000);
    await proxy.resume();
    const backAt = Date.now();
    await waitFor('1.5 s with it', () => Date.now() - backAt >= 1_500, 2_500);
  }

  it(`keeps every process up through ${BLIPS} one-second outages of each, and loses or doubles no run`, () =>
    system.withLogs(async () => {
      const { postgresProxy, natsProxy } = system;
      if (!postgresProxy || !natsProxy) throw new Error('started without the proxies');
      let outagesOverAt = 0;
      const load = await runs.runLoad(
        'outage',
        ENDPOINTS,
        async (jobId) => {
          if (outagesOverAt === 0 && (await runs.finishedRuns(jobId)) >= ENDPOINTS) {
            for (let blip = 0; blip < BLIPS; blip++) {
              await outage(postgresProxy);
              await outage(natsProxy);
            }
            outagesOverAt = Date.now();
          }
          // Then every endpoint runs on for a while.
          return outagesOverAt > 0 && Date.now() - outagesOverAt >= 10_000;
        },
        150_000,
      );

      const dead = system.processes.filter((p) => !p.alive).map((p) => p.label);
      expect(dead).toEqual([]);
      // The outages were felt: every process lost its NATS connection.
      const unaware = system.processes
        .map((p) => p.label)
        .filter(
          (label) =>
            !system.output.some(
              (line) => line.startsWith(`[${label}]`) && line.includes('NATS disconnected'),
            ),
        );
      expect(unaware).toEqual([]);
      for (const p of system.processes) {
        await waitFor(`${p.label} ready again`, async () => (await p.status('/readyz')) === 200, 30_000);
      }
      const report = await runs.audit(load);
      RunAudit.expectSound(report, ENDPOINTS * 10);
      const stalled = load.endpointIds.filter(
        (id) => !(report.startTimes.get(id) ?? []).some((startedAt) => startedAt > outagesOverAt),
      );
      expect(stalled).toEqual([]);
    }));

  it('catches the read models up with every run after the projector is SIGKILLed mid-load and started again', () =>
    system.withLogs(async () => {
      const [projector] = system.of('projector');
      let killedAt = 0;
      const load = await runs.runLoad(
        'projector-kill',
        ENDPOINTS,
        async (jobId) => {
          if (killedAt === 0 && (await runs.finishedRuns(jobId)) >= ENDPOINTS * 2) {
            await projector.kill();
            killedAt = Date.now();
            await waitFor('3 s without a projector', () => Date.now() - killedAt >= 3_000, 4_000);
            await system.spawn('projector');
          }
          return killedAt > 0 && Date.now() - killedAt >= 8_000;
        },
        120_000,
      );
      expect(projector.alive).toBe(false);
      RunAudit.expectSound(await runs.audit(load), ENDPOINTS * 5);

      const { rows } = await system.db.pool.query<{ endpoint_id: string; runs: number }>(
        `SELECT data->>'endpointId' AS endpoint_id, count(DISTINCT stream_id)::int AS runs
           FROM events WHERE type = 'RunFinished' AND data->>'jobId' = $1 GROUP BY 1`,
        [load.jobId],
      );
      expect(rows).toHaveLength(ENDPOINTS);
      for (const { endpoint_id: endpointId, runs: logged } of rows) {
        await eventually(async () => {
          const view = await tenant.get<{ runsCount: number }>(`/v1/endpoints/${endpointId}`);
          expect(view.runsCount).toBe(logged);
        }, 30_000);
      }
    }));
});
