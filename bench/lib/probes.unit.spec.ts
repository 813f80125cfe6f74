import { spawn } from 'node:child_process';
import type { Pool } from 'pg';
import { LagProbe, LagTarget } from './analysis';
import { ProcessSampler } from './proc';

describe('Lag probe', () => {
  const event = { position: '1', stream_id: 'run-1', stream_version: 1, occurred_at: new Date(0) };
  const pool = { query: () => Promise.resolve({ rows: [event] }) } as unknown as Pool;
  const stage = (applied: () => boolean): LagTarget => ({
    name: 'stage',
    types: null,
    applied: () => Promise.resolve(applied()),
  });

  beforeEach(() => jest.useFakeTimers({ now: 0 }));
  afterEach(() => jest.useRealTimers());

  it('should report the probes of the window, answered during the drain too, and none of the warm-up or the drain', async () => {
    // The stage answers at once in the warm-up, then not before 7 s, then at once again.
    const probe = new LagProbe(
      pool,
      stage(() => Date.now() < 3_200 || Date.now() >= 7_000),
    );
    probe.start(1_000);
    await jest.advanceTimersByTimeAsync(9_500);
    probe.stop();

    const window = probe.report(3_500, 6_500);
    // Seen at 4, 5 and 6 s, answered at 7 s.
    expect(window).toMatchObject({ count: 3, p50: 2_000, max: 3_000, timeouts: 0, unfinished: 0 });
  });

  it('should count the probes of the window still unanswered when it stopped', async () => {
    const probe = new LagProbe(
      pool,
      stage(() => false),
    );
    probe.start(1_000);
    await jest.advanceTimersByTimeAsync(2_500);
    probe.stop();

    expect(probe.report(0, 10_000)).toMatchObject({ count: 0, timeouts: 0, unfinished: 2 });
  });
});

describe('Peak RSS', () => {
  it("should take a shared server's sampled RSS, not the VmHWM it reached before the bench", async () => {
    // A process that peaked at 200 MB and then gave the memory back.
    const child = spawn(
      process.execPath,
      [
        '--expose-gc',
        '-e',
        "let b = Buffer.alloc(200 * 2 ** 20, 1); b = null; gc(); console.log('ready'); setInterval(() => {}, 1000)",
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      const pids = () => [child.pid as number];
      const sampler = new ProcessSampler([
        { name: 'shared server', pids, shared: true },
        { name: 'started by the bench', pids },
      ]);
      await sampler.sample();
      const peaks = sampler.peakRss();
      expect(peaks['shared server']).toBeLessThan(150 * 2 ** 20);
      expect(peaks['started by the bench']).toBeGreaterThanOrEqual(200 * 2 ** 20);
    } finally {
      child.kill();
    }
  });
});
