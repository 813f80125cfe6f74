import { SimResult } from './engine';
import { stateChanges } from './metrics';
import { Scenario } from './scenarios';

// The interval between runs over the day, one row per policy, on a log scale, with the
// target's troubled states shaded. Plain SVG, no dependencies, byte-for-byte deterministic.

const HOUR = 3_600_000;
const WIDTH = 960;
const LEFT = 160;
const RIGHT = 20;
const TOP = 44;
const ROW = 104;
const GAP = 14;
const BOTTOM = 34;
const Y_MIN = 10_000;
const Y_MAX = 20 * 60_000;
const Y_TICKS: readonly [number, string][] = [
  [15_000, '15 s'],
  [60_000, '1 min'],
  [300_000, '5 min'],
  [900_000, '15 min'],
];
const BAND_COLOURS = ['none', '#fde8c8', '#f9c9c4'];
const LINE_COLOURS: Record<string, string> = {
  static: '#6b7280',
  heuristic: '#2563eb',
  'scripted-llm': '#d97706',
  'static-5min': '#9ca3af',
};

export interface PlotRow {
  label: string;
  result: SimResult;
}

export interface PlotBounds {
  minIntervalMs: number | null;
  maxIntervalMs: number | null;
}

export function intervalPlot(scenario: Scenario, rows: readonly PlotRow[], bounds: PlotBounds): string {
  const height = TOP + rows.length * (ROW + GAP) - GAP + BOTTOM;
  const plotWidth = WIDTH - LEFT - RIGHT;
  const x = (t: number) => LEFT + (t / scenario.durationMs) * plotWidth;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, sans-serif" font-size="11">`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text x="${LEFT}" y="18" font-size="14" font-weight="600">${escape(scenario.title)}: interval between runs</text>`,
    `<text x="${LEFT}" y="34" fill="#555">${escape(legend(scenario))}</text>`,
  );

  const bands = troubleBands(scenario);
  rows.forEach((row, index) => {
    const top = TOP + index * (ROW + GAP);
    const y = (ms: number) => {
      const clamped = Math.min(Math.max(ms, Y_MIN), Y_MAX);
      const f = Math.log(clamped / Y_MIN) / Math.log(Y_MAX / Y_MIN);
      return top + ROW - f * ROW;
    };
    out.push(`<g>`);
    out.push(
      `<rect x="${LEFT}" y="${top}" width="${plotWidth}" height="${ROW}" fill="#fafafa" stroke="#d1d5db"/>`,
    );
    for (const band of bands) {
      out.push(
        `<rect x="${f1(x(band.from))}" y="${top}" width="${f1(Math.max(0.5, x(band.to) - x(band.from)))}" height="${ROW}" fill="${BAND_COLOURS[Math.min(band.severity, 2)]}"/>`,
      );
    }
    for (const [ms, label] of Y_TICKS) {
      out.push(
        `<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${f1(y(ms))}" y2="${f1(y(ms))}" stroke="#e5e7eb"/>`,
        `<text x="${LEFT - 6}" y="${f1(y(ms) + 4)}" text-anchor="end" fill="#6b7280">${label}</text>`,
      );
    }
    for (const [ms, name] of [
      [bounds.minIntervalMs, 'min'],
      [bounds.maxIntervalMs, 'max'],
    ] as const) {
      if (ms === null) continue;
      out.push(
        `<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${f1(y(ms))}" y2="${f1(y(ms))}" stroke="#9ca3af" stroke-dasharray="4 3"/>`,
        `<text x="${WIDTH - RIGHT - 4}" y="${f1(y(ms) - 3)}" text-anchor="end" fill="#9ca3af">${name}</text>`,
      );
    }
    const runs = row.result.runs.filter((run) => run.gapMs !== null);
    if (runs.length > 0) {
      let path = `M${f1(x(runs[0].start))} ${f1(y(runs[0].gapMs as number))}`;
      for (const run of runs.slice(1)) path += `H${f1(x(run.start))}V${f1(y(run.gapMs as number))}`;
      path += `H${f1(x(scenario.durationMs))}`;
      const colour = LINE_COLOURS[row.result.policy] ?? '#111827';
      out.push(`<path d="${path}" fill="none" stroke="${colour}" stroke-width="1.4"/>`);
    }
    for (const run of row.result.runs) {
      if (run.status === 'success' || run.gapMs === null) continue;
      out.push(`<circle cx="${f1(x(run.start))}" cy="${f1(y(run.gapMs))}" r="1.8" fill="#dc2626"/>`);
    }
    out.push(
      `<text x="8" y="${top + 16}" font-weight="600">${escape(row.label)}</text>`,
      `<text x="8" y="${top + 31}" fill="#555">${row.result.runs.length} calls</text>`,
      `</g>`,
    );
  });

  const axis = TOP + rows.length * (ROW + GAP) - GAP;
  for (let h = 0; h * HOUR <= scenario.durationMs; h += 3) {
    const px = f1(x(h * HOUR));
    out.push(
      `<line x1="${px}" x2="${px}" y1="${axis}" y2="${axis + 4}" stroke="#6b7280"/>`,
      `<text x="${px}" y="${axis + 16}" text-anchor="middle" fill="#6b7280">${String(h).padStart(2, '0')}:00</text>`,
    );
  }
  out.push(`</svg>`);
  return out.join('\n') + '\n';
}

interface Band {
  from: number;
  to: number;
  severity: number;
}

function troubleBands(scenario: Scenario): Band[] {
  const severity = (state: string) => scenario.severity[state] ?? 0;
  const bands: Band[] = [];
  let from = 0;
  let state = scenario.state(0);
  for (const change of [...stateChanges(scenario), { at: scenario.durationMs, from: '', to: '' }]) {
    if (severity(state) > 0) bands.push({ from, to: change.at, severity: severity(state) });
    from = change.at;
    state = change.to;
  }
  return bands;
}

function legend(scenario: Scenario): string {
  const states = Object.entries(scenario.severity)
    .filter(([, level]) => level > 0)
    .map(([state, level]) => `${state} (${level === 1 ? 'amber' : 'red'})`);
  const shaded = states.length > 0 ? `Shaded: ${states.join(', ')}. ` : '';
  return `${shaded}Red dots: failed runs. Log scale; one step per run.`;
}

const f1 = (value: number) => (Math.round(value * 10) / 10).toString();

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
