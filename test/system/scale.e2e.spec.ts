import { RunAudit } from './run-audit';
import { CronicornSystem, TenantClient } from './system-harness';

// Many runs over replicas: 3 scheduler and 2 dispatcher processes share one database and one
// NATS namespace. The event log must show every run handed out once and finished once, and
// no plan that came due left behind, also when a scheduler dies holding leases.

jest.setTimeout(180_000);

const ENDPOINTS = 50;
const MIN_RUNS = 500;
/** Runs of the shorter load with a scheduler killed. */
const MIN_RUNS_WITH_KILL = 300;
/** The scheduler's default lease past the due time: a dead replica's plans wait this long. */
const LEASE_MS = 10_000;
/**
 * A plan that stayed the endpoint's plan this long past its time without being handed out
 * is lost. Above the lease, which delays a dead replica's plans by design, plus room for a
 * loaded machine (the due loop and the event fold can lag seconds there).
 */
const OVERDUE_LIMIT_MS = LEASE_MS + 5_000;

describe('At scale: 3 schedulers and 2 dispatchers', () => {
  let system: CronicornSystem;
  let tenant: TenantClient;
  let runs: RunAudit;

  beforeAll(async () => {
    system = await CronicornSystem.start({
      instances: { 'command-api': 1, projector: 1, scheduler: 3, dispatcher: 2 },
      // The test creates its endpoints in a burst with one key.
      appEnv: { 'command-api': { API_RATE_LIMIT_PER_SECOND: '0' } },
    });
    tenant = await system.createTenant();
    runs = new RunAudit(system, tenant, OVERDUE_LIMIT_MS);
  }, 120_000);

  afterAll(async () => {
    await system?.stop();
  });

  it(`hands out ${MIN_RUNS}+ runs of ${ENDPOINTS} endpoints: each finished once, called once, none lost`, () =>
    system.withLogs(async () => {
      const load = await runs.runLoad(
        'steady',
        ENDPOINTS,
        async (jobId) => (await runs.finishedRuns(jobId)) >= MIN_RUNS,
        90_000,
      );
      RunAudit.expectSound(await runs.audit(load), MIN_RUNS);
    }));

  it(`keeps every endpoint running when a scheduler is SIGKILLed mid-way (${MIN_RUNS_WITH_KILL}+ runs), with the same invariants`, () =>
    system.withLogs(async () => {
      const [victim, ...survivors] = system.of('scheduler');
      let killedAt = 0;
      let leasesAtKill = 0;
      // The dead replica's leases lapse by then; every endpoint must have run after it.
      const resumedBy = () => killedAt + LEASE_MS + 2_000;
      const load = await runs.runLoad(
        'kill',
        ENDPOINTS,
        async (jobId) => {
          const finished = await runs.finishedRuns(jobId);
          // Killed while it holds leases on due plans (its owner id is `host:pid:tag`).
          if (killedAt === 0 && finished >= 100) {
            const { rows } = await system.db.pool.query<{ leases: string }>(
              `SELECT count(*) AS leases FROM scheduler_endpoints
                WHERE lease_owner LIKE $1 AND lease_until > clock_timestamp()`,
              [`%:${victim.child.pid}:%`],
            );
            const leases = rows[0].leases;
            if (Number(leases) > 0) {
              await victim.kill();
              killedAt = Date.now();
              leasesAtKill = Number(leases);
            }
          }
          return killedAt > 0 && Date.now() >= resumedBy() + 8_000 && finished >= MIN_RUNS_WITH_KILL;
        },
        120_000,
      );
      expect(victim.alive).toBe(false);
      expect(leasesAtKill).toBeGreaterThan(0);
      expect(survivors.every((scheduler) => scheduler.alive)).toBe(true);
      const report = await runs.audit(load);
      RunAudit.expectSound(report, MIN_RUNS_WITH_KILL);
      const stalled = load.endpointIds.filter(
        (id) => !(report.startTimes.get(id) ?? []).some((startedAt) => startedAt > resumedBy()),
      );
      expect(stalled).toEqual([]);
    }));
});
