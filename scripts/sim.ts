// `npm run sim`: the adaptive-scheduling simulator (docs/adaptive-scheduling.md). Runs every
// scenario under every policy in virtual time with the real governor and planners, writes
// bench/results/sim.json, the plots under docs/images/ and the results section of the doc.
//
//   npm run sim                                    the whole experiment
//   npm run sim -- --trace backlog heuristic 6 10  one run, hour 6 to 10: runs and analyses
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { simulate } from './sim/engine';
import { POLICIES } from './sim/policies';
import { resultsMarkdown, runSimulation, withResults } from './sim/report';
import { SCENARIOS } from './sim/scenarios';

const ROOT = resolve(__dirname, '..');

async function main(argv: string[]) {
  if (argv[0] === '--trace') return trace(argv.slice(1));
  const started = process.hrtime.bigint();
  const { report, plots } = await runSimulation(SCENARIOS, POLICIES);

  const resultsDir = join(ROOT, 'bench', 'results');
  const imagesDir = join(ROOT, 'docs', 'images');
  mkdirSync(resultsDir, { recursive: true });
  mkdirSync(imagesDir, { recursive: true });
  writeFileSync(join(resultsDir, 'sim.json'), JSON.stringify(report, null, 2) + '\n');
  for (const [name, svg] of Object.entries(plots)) writeFileSync(join(imagesDir, name), svg);
  const docPath = join(ROOT, 'docs', 'adaptive-scheduling.md');
  const doc = existsSync(docPath) ? readFileSync(docPath, 'utf8') : '# Adaptive scheduling\n';
  writeFileSync(docPath, withResults(doc, resultsMarkdown(report)));

  for (const t of report.totals) {
    const vs =
      t.callsVsStaticPct === null
        ? ''
        : ` (${t.callsVsStaticPct > 0 ? '+' : ''}${t.callsVsStaticPct}% vs static)`;
    console.log(
      `${t.policy.padEnd(13)} ${String(t.calls).padStart(7)} calls/day${vs.padEnd(20)} reaction ${t.reactionMeanS ?? '—'} s` +
        ` (onsets ${t.onsetMeanS ?? '—'} s, settles ${t.settleMeanS ?? '—'} s), missed ${t.missed}, outside bounds ${t.outOfBounds}`,
    );
  }
  const ms = Number((process.hrtime.bigint() - started) / 1_000_000n);
  console.log(`wrote bench/results/sim.json, docs/images/sim-*.svg, docs/adaptive-scheduling.md (${ms} ms)`);
}

async function trace([scenarioId, policyId, fromHour = '0', toHour = '24']: string[]) {
  const scenario = SCENARIOS.find((s) => s.id === scenarioId);
  const policy = POLICIES.find((p) => p.id === policyId);
  if (!scenario || !policy) {
    console.error(
      `usage: npm run sim -- --trace <${SCENARIOS.map((s) => s.id).join('|')}> <${POLICIES.map((p) => p.id).join('|')}> [fromHour] [toHour]`,
    );
    process.exitCode = 2;
    return;
  }
  const result = await simulate(scenario, policy);
  const from = Number(fromHour) * 3_600_000;
  const to = Number(toHour) * 3_600_000;
  const clock = (t: number) => new Date(t).toISOString().slice(11, 19);
  const lines = [
    ...result.runs.map((run) => ({
      t: run.start,
      text: `run  ${run.status.padEnd(7)} ${String(run.httpStatus ?? '—').padEnd(3)} ${String(run.durationMs).padStart(5)} ms  gap ${run.gapMs === null ? '—' : `${run.gapMs / 1000} s`}  (${run.reason}) state ${scenario.state(run.start)}`,
    })),
    ...result.analyses.map((analysis) => ({
      t: analysis.at,
      text: `plan ${analysis.summary}${analysis.toolCalls.map((c) => `\n           → ${c.name} ${typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments)} ${c.accepted ? 'accepted' : 'REJECTED'}${c.reason ? `: ${c.reason}` : ''}`).join('')}`,
    })),
  ]
    .filter((line) => line.t >= from && line.t <= to)
    .sort((a, b) => a.t - b.t);
  for (const line of lines) console.log(`${clock(line.t)}  ${line.text}`);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
