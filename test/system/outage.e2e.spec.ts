import { CronicornSystem, TenantClient, waitFor } from './system-harness';

// Postgres goes away for a second, five times, while endpoints run: every app rides it out
// (README: apps retry Postgres in the background, /readyz says 503 meanwhile) and the runs
// go on afterwards. No process may die of it.

jest.setTimeout(150_000);

const ENDPOINTS = 5;
const BLIPS = 5;

describe('Postgres blips while endpoints run (every app through a TCP proxy)', () => {
  let system: CronicornSystem;
  let tenant: TenantClient;

  beforeAll(async () => {
    system = await CronicornSystem.start({ postgresProxy: true });
    tenant = await system.createTenant();
  }, 120_000);

  afterAll(async () => {
    await system?.stop();
  });

  it(`keeps every process up through ${BLIPS} one-second outages, and the runs go on`, () =>
    system.withLogs(async () => {
      const proxy = system.postgresProxy;
      if (!proxy) throw new Error('started without the Postgres proxy');
      const jobId = await tenant.createJob('outage');
      const paths = Array.from({ length: ENDPOINTS }, (_, i) => `/outage/${i}`);
      for (const path of paths) {
        await tenant.createEndpoint(jobId, { url: system.target.url(path), intervalMs: 1_000 });
      }
      const hits = (path: string) => system.target.hitsOf(path).length;
      await waitFor('a first call of every endpoint', () => paths.every((path) => hits(path) >= 1), 20_000);

      for (let blip = 0; blip < BLIPS; blip++) {
        await proxy.pause();
        const cutAt = Date.now();
        await waitFor('a second without Postgres', () => Date.now() - cutAt >= 1_000, 2_000);
        await proxy.resume();
        const backAt = Date.now();
        await waitFor('1.5 s with Postgres', () => Date.now() - backAt >= 1_500, 2_500);
      }
      const dead = system.processes.filter((p) => !p.alive).map((p) => p.label);
      expect(dead).toEqual([]);

      for (const p of system.processes) {
        await waitFor(`${p.label} ready again`, async () => (await p.status('/readyz')) === 200, 30_000);
      }
      const before = new Map(paths.map((path) => [path, hits(path)]));
      await waitFor(
        'two more calls of every endpoint',
        () => paths.every((path) => hits(path) >= (before.get(path) ?? 0) + 2),
        30_000,
      );
    }));
});
