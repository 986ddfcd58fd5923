/**
 * Runs a workload with every party in its own worker thread, over the worker transport with the link model of
 * one network setting (or none), and collects one record: the slowest party's timed part, every party's meter,
 * the check's metrics and the analytic network estimate.
 */
import { Worker } from 'node:worker_threads';
import { createWorkerMesh, transferListOf, type MeterSnapshot, type PartyId, type WireStats } from '../../ts/net/index.js';
import { estimateTime, settingFor, type LatencyReading, type SettingName, type TimeEstimate } from '../netem.js';
import type { SeriesPoint, Workload } from '../workloads/index.js';
import type { PartyResult, RecvTrace } from './party.js';
import type { WorkerInput } from './worker.js';

export type Transport = 'threads' | 'netns';

export interface RunRecord {
  workload: string;
  group: string;
  title: string;
  params: Record<string, number | string>;
  series?: SeriesPoint;
  /** 'none': no link model, no shaping (compute and local transport only). */
  setting: SettingName | 'none';
  transport: Transport;
  /** The slowest party's timed part, ms (with --reps: of the fastest repetition). */
  runMs: number;
  /** With --reps: every repetition's runMs. */
  repsMs?: number[];
  /** The slowest party's set-up (join, sharing, fixing weights), ms. */
  setupMs: number;
  parties: Partial<Record<PartyId, { runMs: number; setupMs: number }>>;
  snapshots: Partial<Record<PartyId, MeterSnapshot>>;
  /** TCP only: whole frames, framing included. */
  wire?: Partial<Record<PartyId, WireStats>>;
  metrics: Record<string, number>;
  /** The network's share by the analytic model (bench/netem.ts estimateTime), for a real setting. */
  estimate?: TimeEstimate;
  /** Network patterns: the link model's exact prediction. */
  predictedMs?: number;
  /** S1's receive trace of the timed part (bench/harness/party.ts), to re-estimate under other settings. */
  trace?: RecvTrace;
  /** The snapshots' per-op counts were dropped (identical to the workload's first run; bench/run-all.ts). */
  opsOmitted?: boolean;
}

export interface RunOptions {
  reading: LatencyReading;
  fracBits: number;
  /** Whole-run limit. */
  timeoutMs: number;
}

let sessions = 0;

/** Builds the record from every party's result (shared with the netns runner). */
export function recordOf(w: Workload, setting: SettingName | null, transport: Transport, results: PartyResult[], reading: LatencyReading): RunRecord {
  const parties: RunRecord['parties'] = {};
  const snapshots: RunRecord['snapshots'] = {};
  const wire: NonNullable<RunRecord['wire']> = {};
  let metrics: Record<string, number> = {};
  for (const r of results) {
    parties[r.role] = { runMs: r.runMs, setupMs: r.setupMs };
    snapshots[r.role] = r.snapshot;
    if (r.wire.framesSent > 0 || r.wire.framesReceived > 0) wire[r.role] = r.wire;
    if (r.metrics) metrics = { ...metrics, ...r.metrics };
  }
  const s = setting === null ? undefined : settingFor(setting, reading);
  const trace = results.find((r) => r.role === 's1')?.trace;
  return {
    workload: w.id,
    group: w.group,
    title: w.title,
    params: w.params ?? {},
    ...(w.series ? { series: w.series } : {}),
    setting: setting ?? 'none',
    transport,
    runMs: Math.max(...results.map((r) => r.runMs)),
    setupMs: Math.max(...results.map((r) => r.setupMs)),
    parties,
    snapshots,
    ...(Object.keys(wire).length > 0 ? { wire } : {}),
    metrics,
    ...(trace ? { trace } : {}),
    ...(s ? { estimate: estimateTime(snapshots, s, trace) } : {}),
    ...(s && w.predictMs ? { predictedMs: w.predictMs(s) } : {}),
  };
}

export async function runThreads(w: Workload, setting: SettingName | null, opts: RunOptions): Promise<RunRecord> {
  const session = `bench-${process.pid}-${++sessions}`;
  const mesh = createWorkerMesh(w.roles);
  const workers: Worker[] = [];
  const results: PartyResult[] = [];
  let ready = 0;
  return new Promise<RunRecord>((resolve, reject) => {
    let done = false;
    const finish = (err: Error | undefined, rec?: RunRecord): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err !== undefined) {
        for (const wk of workers) void wk.terminate();
        reject(err);
      } else {
        resolve(rec!);
      }
    };
    const timer = setTimeout(() => finish(new Error(`${w.id} @ ${setting ?? 'none'}: no result within ${opts.timeoutMs} ms`)), opts.timeoutMs);
    for (const role of w.roles) {
      const ep = mesh.get(role)!;
      const data: WorkerInput = { workload: w.id, session, ep, setting, reading: opts.reading, fracBits: opts.fracBits };
      const wk = new Worker(new URL('./worker.js', import.meta.url), { workerData: data, transferList: transferListOf(ep) });
      workers.push(wk);
      wk.on('message', (m: { type: string; result?: PartyResult; message?: string; stack?: string }) => {
        if (m.type === 'ready') {
          if (++ready === w.roles.length) for (const x of workers) x.postMessage('go');
        } else if (m.type === 'result') {
          results.push(m.result!);
          if (results.length === w.roles.length) finish(undefined, recordOf(w, setting, 'threads', results, opts.reading));
        } else if (m.type === 'error') {
          const e = new Error(`${w.id} @ ${setting ?? 'none'}: ${m.message}`);
          e.stack = m.stack;
          finish(e);
        }
      });
      wk.on('error', (e) => finish(new Error(`${w.id} @ ${setting ?? 'none'}: worker ${role} failed: ${e.message}`, { cause: e })));
      wk.on('exit', (code) => {
        if (code !== 0) finish(new Error(`${w.id} @ ${setting ?? 'none'}: worker ${role} exited with code ${code}`));
      });
    }
  });
}
