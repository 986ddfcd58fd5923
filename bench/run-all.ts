/**
 * The bench: every registered workload (bench/workloads/index.ts) under every network setting, plus the
 * link-model check on real links where this machine allows network namespaces, plus the plaintext baselines;
 * writes bench/results/<date>-<commit>.json and renders bench/REPORT.md from it.
 *
 *   npm run bench [-- options]
 *     --full               heavy workloads too, and the MPC workloads over real links (netns)
 *     --only a,b           only workloads whose id contains one of these substrings
 *     --settings s,...     subset of none,lan,wan200,wan100 (default: all four)
 *     --reading rtt|one-way  how the paper's latency figures are read (default rtt: one-way = half)
 *     --no-netns           skip real links even where they work
 *     --netns-workloads    run the MPC workloads over real links as well (implied by --full)
 *     --no-plain           skip the plaintext baselines
 *     --reps N             run every (workload, setting) N times and keep the fastest (default 1; the others'
 *                          times stay in the record as `repsMs`)
 *     --out DIR            results directory (default bench/results); the report goes to bench/REPORT.md
 *     --report FILE        report path (default bench/REPORT.md)
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBackend } from '../bindings/index.js';
import { FRAC_BITS } from '../ts/ring/tensor.js';
import { runThreads, type RunOptions, type RunRecord } from './harness/threads.js';
import { SETTING_NAMES, settingFor, type LatencyReading, type SettingName } from './netem.js';
import { probeNetns, runNetns, type NetnsProbe } from './netns/run.js';
import { writeReport, type AnalyticRecord, type BenchResults, type FailureRecord, type PlainRecord } from './report.js';
import { allWorkloads, type Workload } from './workloads/index.js';
import { MODEL_CACHE_ENV } from './workloads/transformer.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Args {
  full: boolean;
  only: string[];
  settings: (SettingName | null)[];
  reading: LatencyReading;
  netns: boolean;
  netnsWorkloads: boolean;
  plain: boolean;
  reps: number;
  out: string;
  report: string;
}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    full: false,
    only: [],
    settings: [null, ...SETTING_NAMES],
    reading: 'rtt',
    netns: true,
    netnsWorkloads: false,
    plain: true,
    reps: 1,
    out: join(ROOT, 'bench', 'results'),
    report: join(ROOT, 'bench', 'REPORT.md'),
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const val = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`option ${k} needs a value`);
      return v;
    };
    if (k === '--full') a.full = true;
    else if (k === '--only') a.only = val().split(',').filter(Boolean);
    else if (k === '--settings') {
      a.settings = val().split(',').map((s) => {
        if (s === 'none') return null;
        if (!(SETTING_NAMES as readonly string[]).includes(s)) throw new Error(`--settings: unknown setting ${s}; use none, ${SETTING_NAMES.join(', ')}`);
        return s as SettingName;
      });
    } else if (k === '--reading') {
      const r = val();
      if (r !== 'rtt' && r !== 'one-way') throw new Error('--reading must be rtt or one-way');
      a.reading = r;
    } else if (k === '--no-netns') a.netns = false;
    else if (k === '--netns-workloads') a.netnsWorkloads = true;
    else if (k === '--no-plain') a.plain = false;
    else if (k === '--reps') {
      a.reps = Number(val());
      if (!Number.isInteger(a.reps) || a.reps < 1 || a.reps > 20) throw new Error('--reps must be an integer in 1..20');
    }
    else if (k === '--out') a.out = val();
    else if (k === '--report') a.report = val();
    else throw new Error(`unknown option ${k} (see the header of bench/run-all.ts)`);
  }
  if (a.full) a.netnsWorkloads = true;
  return a;
}

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

/**
 * The fastest of up to `reps` runs of f within `budgetMs`, after a warm-up run (JIT) that counts as the only
 * run when it alone took longer than the budget.
 */
function best(reps: number, budgetMs: number, f: () => void): { ms: number; reps: number } {
  const t0 = performance.now();
  f();
  const first = performance.now() - t0;
  if (first > budgetMs) return { ms: first, reps: 1 };
  let b = Infinity;
  let n = 0;
  const start = performance.now();
  while (n < reps && (n === 0 || performance.now() - start < budgetMs)) {
    const t = performance.now();
    f();
    b = Math.min(b, performance.now() - t);
    n++;
  }
  return { ms: b, reps: n };
}

const label = (s: SettingName | null): string => s ?? 'none';

/**
 * A program's per-op counts do not depend on the network, so only the first run of each workload keeps them;
 * the others keep totals and per-peer counts (`opsOmitted`). Keeps a --full result file small.
 */
function compactRuns(runs: RunRecord[]): void {
  const seen = new Set<string>();
  for (const r of runs) {
    if (!seen.has(r.workload)) {
      seen.add(r.workload);
      continue;
    }
    for (const snap of Object.values(r.snapshots)) if (snap) snap.ops = {};
    r.opsOmitted = true;
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const be = loadBackend();
  const commit = git(['rev-parse', 'HEAD']) || 'unknown';
  const dirty = git(['status', '--porcelain']).length > 0;
  const cpu = cpus();
  const date = new Date().toISOString();
  const loadStart = loadavg()[0]!;
  const opts: RunOptions = { reading: args.reading, fracBits: FRAC_BITS, timeoutMs: 60 * 60_000 };
  // The transformer workloads' seeded models, generated once for this invocation (workers inherit the variable).
  const models = (process.env[MODEL_CACHE_ENV] = mkdtempSync(join(tmpdir(), 'secp-bench-models-')));
  process.on('exit', () => rmSync(models, { recursive: true, force: true }));

  const picked = (w: Workload): boolean => (args.full || !w.heavy) && (args.only.length === 0 || args.only.some((o) => w.id.includes(o)));
  const workloads = allWorkloads().filter(picked);
  console.log(`bench: ${workloads.length} workloads × settings ${args.settings.map(label).join(', ')}${args.full ? ' (--full)' : ''}`);

  const runs: RunRecord[] = [];
  const failures: FailureRecord[] = [];
  const attempt = async (w: Workload, s: SettingName | null, transport: 'threads' | 'netns'): Promise<void> => {
    try {
      if (w.memoryBytes !== undefined && w.memoryBytes > 0.8 * totalmem()) {
        throw new Error(`needs about ${(w.memoryBytes / 2 ** 30).toFixed(0)} GiB of memory, this machine has ${(totalmem() / 2 ** 30).toFixed(0)} GiB`);
      }
      let r: RunRecord | undefined;
      const times: number[] = [];
      for (let i = 0; i < args.reps; i++) {
        const x = transport === 'threads' ? await runThreads(w, s, opts) : await runNetns(w, s, opts);
        times.push(x.runMs);
        if (r === undefined || x.runMs < r.runMs) r = x;
      }
      if (args.reps > 1) r!.repsMs = times;
      runs.push(r!);
      const est = r!.predictedMs !== undefined ? `, model ${r!.predictedMs.toFixed(1)} ms` : r!.estimate ? `, net est. ${r!.estimate.totalMs.toFixed(1)} ms` : '';
      console.log(`  ${transport.padEnd(7)} ${label(s).padEnd(6)} ${w.id.padEnd(36)} ${r!.runMs.toFixed(1).padStart(10)} ms${est}`);
    } catch (e) {
      const err = e as Error;
      failures.push({ workload: w.id, setting: label(s), transport, error: err.message });
      console.log(`  ${transport.padEnd(7)} ${label(s).padEnd(6)} ${w.id.padEnd(36)} FAILED: ${err.message}`);
    }
  };

  const runsUnder = (w: Workload, s: SettingName | null): boolean => s === null || w.settings === undefined || w.settings.includes(s);
  for (const s of args.settings) for (const w of workloads) if (runsUnder(w, s)) await attempt(w, s, 'threads');

  let netns: NetnsProbe = { available: false, detail: 'skipped (--no-netns)' };
  if (args.netns) {
    netns = probeNetns();
    console.log(`netns: ${netns.available ? 'available' : `not available: ${netns.detail}`}`);
    if (netns.available) {
      const onReal = workloads.filter((w) => w.group === 'net' || args.netnsWorkloads);
      for (const s of args.settings) for (const w of onReal) if (runsUnder(w, s)) await attempt(w, s, 'netns');
    }
  }

  const plain: PlainRecord[] = [];
  if (args.plain) {
    for (const w of workloads) {
      if (w.plain === undefined) continue;
      const base = w.plain(be);
      const r = best(5, 2000, () => base.run());
      plain.push({ workload: w.id, ...r });
      console.log(`  plain   f32    ${w.id.padEnd(36)} ${r.ms.toFixed(2).padStart(10)} ms`);
    }
  }

  const analytic: AnalyticRecord[] = workloads.filter((w) => w.analytic).map((w) => ({ workload: w.id, labels: [...w.analytic!().labels] }));
  const results: BenchResults = {
    meta: {
      date,
      commit,
      dirty,
      machine: {
        cpu: cpu[0]?.model ?? 'unknown',
        cores: cpu.length,
        memGiB: totalmem() / 2 ** 30,
        kernel: release(),
        node: process.versions.node,
        backend: be.name,
      },
      command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
      full: args.full,
      reading: args.reading,
      fracBits: FRAC_BITS,
      durationS: (performance.now() - started) / 1000,
      loadavg: [loadStart, loadavg()[0]!],
      reps: args.reps,
    },
    settings: SETTING_NAMES.map((s) => settingFor(s, args.reading)),
    netns,
    runs,
    plain,
    failures,
    analytic,
  };
  compactRuns(runs);
  mkdirSync(args.out, { recursive: true });
  const file = join(args.out, `${date.replace(/[:.]/g, '-')}-${commit.slice(0, 8)}.json`);
  writeFileSync(file, `${JSON.stringify(results)}\n`);
  writeReport(results, args.report, join(args.out, 'figures'));
  console.log(`wrote ${file} and ${args.report}${failures.length > 0 ? ` (${failures.length} failures)` : ''}`);
  if (failures.length > 0) process.exitCode = 1;
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
