/**
 * Draws the calls-to-accuracy chart of docs/results.md from the runs bench/tune-curve.ts saved
 * (bench/results/tuning/*.json): dev accuracy against forward calls, one line per run (MPC runs dashed), and
 * prints the runs as a markdown table (test accuracy before -> after beside the majority class).
 *
 *   npm run tune-report [-- --only NAME1,NAME2]   -> bench/results/figures/tuning-dev-curve.svg
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { lineChart, type LineSeries } from './svg.js';

interface Run {
  name: string;
  settings: Record<string, unknown>;
  testN: number;
  testMajority: number;
  untunedTest: number;
  tunedTest: number;
  calls: number;
  curve: { calls: number; dev: number }[];
  tuneSeconds: number;
  label?: string;
}

const { values } = parseArgs({ options: { only: { type: 'string' } } });
const dir = 'bench/results/tuning';
const only = values.only?.split(',');
const runs: Run[] = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .map((f) => JSON.parse(readFileSync(`${dir}/${f}`, 'utf8')) as Run)
  .filter((r) => only === undefined || only.includes(r.name))
  .sort((a, b) => (only ? only.indexOf(a.name) - only.indexOf(b.name) : a.name.localeCompare(b.name)));

const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
/** Tuned with the private forward (tune-curve --mpc). */
const isMpc = (r: Run) => r.settings['mpc'] === true;
const series: LineSeries[] = runs.map((r, i) => ({
  name: `${r.label ?? r.name}${isMpc(r) ? ' (MPC)' : ''}`,
  points: r.curve.map((p) => [p.calls, 100 * p.dev] as [number, number]),
  dashed: isMpc(r),
  colorIndex: i,
}));
const svg = lineChart({ title: 'Rotten Tomatoes dev accuracy (100 examples) of the evaluated prompt against forward calls', xLabel: 'forward calls (candidates evaluated on the training batch)', yLabel: 'dev accuracy (%)', series, yMin: 40, width: 900 });
writeFileSync('bench/results/figures/tuning-dev-curve.svg', `${svg}\n`);
console.log('| run | model | head | attention | settings | calls | test N | test accuracy before → after | majority | tuning wall time |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const r of runs) {
  const s = r.settings;
  const model = String(s['model']).split('/').pop();
  const att = s['attention'] === 'rfa' ? `RFA normalized D=${s['rfaFeatures']}` : 'softmax';
  const set = `${Number(s['shots']) * 2} train, ${Number(s['devShots']) * 2} dev, seq ${s['seqLen']}, P ${s['promptLength']}${s['init'] ? ` init "${s['init']}"` : ''}, d ${s['dim']}, pop ${s['popsize']}, σ0 ${s['sigma0']}, ${s['projection']}${s['projectionStd'] ? ` (${s['projectionStd']})` : ''}${Number(s['patience']) > 0 ? `, patience ${s['patience']}` : ''}`;
  console.log(`| ${r.name}${isMpc(r) ? ' (MPC)' : ''} | ${model} | ${s['kind']} | ${att} | ${set} | ${r.calls} | ${r.testN} | ${pct(r.untunedTest)} → **${pct(r.tunedTest)}** | ${pct(r.testMajority)} | ${(r.tuneSeconds / 60).toFixed(1)} min |`);
}
console.log('\nwrote bench/results/figures/tuning-dev-curve.svg');
