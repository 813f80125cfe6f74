import { metricValue } from './apps';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OptionsError, parseOptions, usage } from './options';
import { normaliseStatement } from './postgres';
import { updatePerformanceDoc } from './report';
import { compareCalls, NextPlan, percentiles, PlannedRun, planOutcome, quantile } from './stats';

describe('bench:dispatch options', () => {
  it('should default to 1000 endpoints at 1 s for 60 s', () => {
    const options = parseOptions([], {});
    expect(options).toMatchObject({ endpoints: 1000, intervalMs: 1000, durationS: 60, write: true });
  });

  it('should let flags override the environment', () => {
    const options = parseOptions(['--endpoints', '100', '--duration-s=20', '--no-write'], {
      BENCH_ENDPOINTS: '50',
      BENCH_WARMUP_S: '3',
    });
    expect(options).toMatchObject({ endpoints: 100, durationS: 20, warmupS: 3, write: false });
  });

  it('should refuse an interval below the API floor and unknown flags', () => {
    expect(() => parseOptions(['--interval-ms', '500'], {})).toThrow(OptionsError);
    expect(() => parseOptions(['--endpoint', '5'], {})).toThrow(/unknown option/);
    expect(() => parseOptions(['--endpoints'], {})).toThrow(/needs a value/);
  });

  it('should return null for --help', () => {
    expect(parseOptions(['--help'], {})).toBeNull();
  });

  it('should document the environment variable of every option in docs/performance.md', () => {
    const doc = readFileSync(join(__dirname, '..', '..', 'docs', 'performance.md'), 'utf8');
    const variables = [...usage().matchAll(/\((BENCH_[A-Z_]+)\)$/gm)].map((m) => m[1]);
    expect(variables.length).toBeGreaterThan(10);
    expect(variables.filter((name) => !doc.includes(`\`${name}\``))).toEqual([]);
  });
});

describe('Percentiles', () => {
  it('should use the nearest rank', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentiles(values)).toMatchObject({ count: 100, p50: 50, p95: 95, p99: 99, max: 100 });
    expect(quantile([7], 0.99)).toBe(7);
    expect(percentiles([])).toMatchObject({ count: 0, p50: null, max: null });
  });
});

describe('Plan outcome', () => {
  const plan: PlannedRun = { runId: 'r1', endpointId: 'e', runAtMs: 10_000, position: 5n };
  const later = (runId: string, plannedAtMs: number, position = 9n): NextPlan => ({
    runId,
    plannedAtMs,
    position,
  });

  it('should count a run started within the budget as on time, later as started late', () => {
    expect(planOutcome(plan, { startedAtMs: 10_200, skipped: false, missed: false }, [], 5_000)).toBe(
      'on_time',
    );
    expect(planOutcome(plan, { startedAtMs: 15_001, skipped: false, missed: false }, [], 5_000)).toBe(
      'started_late',
    );
  });

  it('should call a plan replaced before its time superseded, and shortly after it replanned', () => {
    expect(planOutcome(plan, undefined, [later('r2', 9_000)], 5_000)).toBe('superseded');
    expect(planOutcome(plan, undefined, [later('r2', 10_300)], 5_000)).toBe('replanned_after_due');
  });

  it('should call a plan nothing happened to for longer than the budget never started', () => {
    expect(planOutcome(plan, undefined, [], 5_000)).toBe('never_started');
    expect(planOutcome(plan, undefined, [later('r2', 16_000)], 5_000)).toBe('never_started');
    // An earlier plan, or a re-plan of the same run id, replaces nothing.
    expect(planOutcome(plan, undefined, [later('r2', 9_000, 4n), later('r1', 9_500)], 5_000)).toBe(
      'never_started',
    );
  });

  it('should take skipped and missed from the log', () => {
    expect(planOutcome(plan, { startedAtMs: null, skipped: true, missed: false }, [], 5_000)).toBe('skipped');
    expect(planOutcome(plan, { startedAtMs: null, skipped: false, missed: true }, [], 5_000)).toBe('missed');
  });
});

describe('Target calls against the log', () => {
  it('should count calls beyond the starts of an endpoint, and starts without a call', () => {
    const calls = new Map([
      ['a', 10],
      ['b', 4],
    ]);
    const starts = new Map([
      ['a', 9],
      ['b', 5],
      ['c', 1],
    ]);
    expect(compareCalls(calls, starts)).toEqual({ extraCalls: 1, unseenStarts: 2 });
  });
});

describe('Prometheus text', () => {
  const text = [
    '# HELP cronicorn_dispatcher_deliveries_total x',
    'cronicorn_dispatcher_deliveries_total{app="dispatcher",outcome="finished"} 40',
    'cronicorn_dispatcher_deliveries_total{app="dispatcher",outcome="failed"} 2',
    'cronicorn_dispatcher_deliveries_total_extra 9',
  ].join('\n');

  it('should sum a metric over its label sets, or the matching ones', () => {
    expect(metricValue(text, 'cronicorn_dispatcher_deliveries_total')).toBe(42);
    expect(metricValue(text, 'cronicorn_dispatcher_deliveries_total', 'outcome="failed"')).toBe(2);
    expect(metricValue(text, 'cronicorn_missing')).toBeNull();
  });
});

describe('Postgres statements', () => {
  it('should fold literals so one statement counts once', () => {
    expect(normaliseStatement("SELECT * FROM t WHERE id = 42 AND name = 'it''s'")).toBe(
      'SELECT * FROM t WHERE id = ? AND name = ?',
    );
  });
});

describe('docs/performance.md', () => {
  it('should put the newest row first and keep the older ones', () => {
    const doc = '# Performance\n\nintro\n';
    const once = updatePerformanceDoc(doc, '| row 1 |', 'machine A');
    const twice = updatePerformanceDoc(once, '| row 2 |', 'machine B');
    expect(twice).toContain('intro');
    expect(twice.indexOf('| row 2 |')).toBeLessThan(twice.indexOf('| row 1 |'));
    expect(twice).toContain('machine B');
    expect(twice).not.toContain('machine A');
    expect(twice.match(/\| date \(UTC\)/g)).toHaveLength(1);
  });
});
