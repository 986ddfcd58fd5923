/**
 * MPC protocol bench: online time, rounds and bytes of every protocol of ts/mpc, over every transport,
 * measured side by side in one run.
 *   npm run bench:mpc [-- --quick] [-- --transports local,worker,tcp] [-- --reps N] [-- --only op,op]
 *
 * Transports: `local` = S0, S1, the dealer and the data owner on this thread (in-process links: both
 * servers' work is serialised on one core); `worker` = each party in a worker thread of its own
 * (MessageChannel links); `tcp` = each party in a child process of its own, meshed over loopback TCP.
 * Sizes: n = 2^16 elements per elementwise op, LayerNorm on [256, 256], matmul [256, 768]·[768, 768]
 * (`--quick`: 2^12, [64, 64], [64, 256]·[256, 256], one repetition).
 *
 * time ms: the servers' online time, median over the repetitions: the dealer has generated and sent the
 * op's correlated randomness before the servers start (see bench/mpc-worker.ts), so its work is not in
 * it; it is reported apart as "dealer ms". rounds and bytes come from the meter (payload bytes, framing
 * excluded); bytes/server is what S0 sent (S1 sends the same: checked); "dealer bytes" is what the dealer
 * sent, all of it to S1. The PRG keys are fresh from the OS (no insecure seeds): costs do not depend on them.
 * Results also go to bench/results/mpc.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { createLocalNetwork } from '../ts/net/local.js';
import { createWorkerMesh, transferListOf } from '../ts/net/worker.js';
import {
  BENCH_LINK_OPTS,
  BENCH_OPS,
  BENCH_PARTIES,
  BENCH_SESSION,
  BENCH_WORKER,
  benchParty,
  forkBenchChild,
  type BenchChildMessage,
  type BenchChildStart,
  type BenchConfig,
  type BenchPartyResult,
  type BenchRole,
  type BenchWorkerJob,
} from './mpc-worker.js';

type Transport = 'local' | 'worker' | 'tcp';
const TRANSPORTS: readonly Transport[] = ['local', 'worker', 'tcp'];

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const quick = process.argv.includes('--quick');
const cfg: BenchConfig = quick
  ? { n: 1 << 12, mm: [64, 256, 256], ln: [64, 64], reps: 1 }
  : { n: 1 << 16, mm: [256, 768, 768], ln: [256, 256], reps: 5 };
if (argValue('--reps') !== undefined) cfg.reps = Number(argValue('--reps'));
if (!Number.isInteger(cfg.reps) || cfg.reps < 1) throw new Error(`--reps must be a positive integer, got ${argValue('--reps')}`);
const transports = (argValue('--transports')?.split(',') ?? [...TRANSPORTS]) as Transport[];
for (const t of transports) if (!TRANSPORTS.includes(t)) throw new Error(`unknown transport ${t}; use ${TRANSPORTS.join(', ')}`);
const only = argValue('--only')?.split(',');
const outFile = argValue('--out') ?? fileURLToPath(new URL('../../bench/results/mpc.json', import.meta.url));

type Results = Record<BenchRole, BenchPartyResult>;

async function runLocal(): Promise<Results> {
  const links = createLocalNetwork(BENCH_SESSION, BENCH_PARTIES, BENCH_LINK_OPTS);
  const rs = await Promise.all(BENCH_PARTIES.map((r) => benchParty(r, links.get(r)!, cfg, only)));
  return Object.fromEntries(rs.map((r) => [r.role, r])) as Results;
}

async function runWorkers(): Promise<Results> {
  const mesh = createWorkerMesh(BENCH_PARTIES);
  const rs = await Promise.all(BENCH_PARTIES.map((role) => new Promise<BenchPartyResult>((resolve, reject) => {
    const ep = mesh.get(role)!;
    const job: BenchWorkerJob = { kind: 'mpc-bench', role, ep, cfg, ...(only ? { only } : {}) };
    const w = new Worker(BENCH_WORKER, { workerData: job, transferList: transferListOf(ep) });
    w.once('message', resolve);
    w.once('error', reject);
    w.once('exit', (c) => reject(new Error(`${role}'s worker exited with code ${c} before reporting`)));
  })));
  return Object.fromEntries(rs.map((r) => [r.role, r])) as Results;
}

async function runChildren(): Promise<Results> {
  const children = BENCH_PARTIES.map((role) => ({ role, child: forkBenchChild(role) }));
  const listening = new Map<BenchRole, Promise<BenchChildMessage>>();
  const done = new Map<BenchRole, Promise<BenchPartyResult>>();
  for (const { role, child } of children) {
    let onListen!: (m: BenchChildMessage) => void;
    listening.set(role, new Promise((r) => (onListen = r)));
    done.set(role, new Promise((resolve, reject) => {
      child.on('message', (m: BenchChildMessage) => (m.type === 'listening' ? onListen(m) : resolve(m.result)));
      child.once('exit', (c, s) => reject(new Error(`${role}'s process exited (${s ?? c}) before reporting`)));
    }));
  }
  const addresses = {} as BenchChildStart['addresses'];
  for (const [role, p] of listening) {
    const m = await p;
    if (m.type === 'listening') addresses[role] = m.address;
  }
  for (const { child } of children) child.send({ type: 'start', addresses, cfg, ...(only ? { only } : {}) } satisfies BenchChildStart);
  const rs = await Promise.all([...done.values()]);
  return Object.fromEntries(rs.map((r) => [r.role, r])) as Results;
}

interface Row {
  op: string;
  title: string;
  transport: Transport;
  elements: number;
  unit: string;
  /** Servers' online time, median over repetitions (max of S0 and S1 per repetition). */
  timeMs: number;
  timesMs: number[];
  rounds: number;
  msgsPerServer: number;
  bytesPerServer: number;
  bytesPerElement: number;
  dealerBytes: number;
  dealerBytesPerElement: number;
  dealerMs: number;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

function rowsOf(transport: Transport, rs: Results): Row[] {
  for (const r of BENCH_PARTIES) if (rs[r].error !== undefined) throw new Error(`${transport}: ${r} failed: ${rs[r].error}`);
  const rows: Row[] = [];
  for (const op of BENCH_OPS) {
    const mine = (r: BenchRole): typeof rs.s0.records => rs[r].records.filter((x) => x.op === op.id);
    const [s0, s1, dealer] = [mine('s0'), mine('s1'), mine('dealer')];
    if (s0.length === 0) continue;
    for (let i = 0; i < s0.length; i++) {
      for (const k of ['rounds', 'bytesSent', 'msgsSent'] as const) {
        if (s0[i]!.traffic[k] !== s0[0]!.traffic[k]) throw new Error(`${op.id}: ${k} differs between repetitions`);
        if (s1[i]!.traffic[k] !== s0[i]!.traffic[k]) throw new Error(`${op.id}: S0 and S1 differ in ${k} (${s0[i]!.traffic[k]} vs ${s1[i]!.traffic[k]})`);
      }
    }
    const times = s0.map((r, i) => Math.max(r.ms, s1[i]!.ms));
    const elements = op.elements(cfg);
    const t = s0[0]!.traffic;
    const dealerBytes = dealer[0]!.traffic.bytesSent;
    rows.push({
      op: op.id,
      title: op.title,
      transport,
      elements,
      unit: op.unit ?? 'element',
      timeMs: median(times),
      timesMs: times,
      rounds: t.rounds,
      msgsPerServer: t.msgsSent,
      bytesPerServer: t.bytesSent,
      bytesPerElement: t.bytesSent / elements,
      dealerBytes,
      dealerBytesPerElement: dealerBytes / elements,
      dealerMs: median(dealer.map((r) => r.ms)),
    });
  }
  return rows;
}

const int = (v: number): string => Math.round(v).toLocaleString('en-US');
const per = (v: number): string => (Number.isInteger(v) ? String(v) : v.toFixed(v < 10 ? 3 : 2));
const ms = (v: number): string => (v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0));

function table(head: string[], body: string[][], right: (i: number) => boolean): string {
  const w = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (r: string[]): string => `| ${r.map((c, i) => (right(i) ? c.padStart(w[i]!) : c.padEnd(w[i]!))).join(' | ')} |`;
  return [line(head), `|${w.map((x, i) => (right(i) ? `${'-'.repeat(x + 1)}:` : `:${'-'.repeat(x + 1)}`)).join('|')}|`, ...body.map(line)].join('\n');
}

const started = performance.now();
const all: Row[] = [];
const backends = new Set<string>();
for (const transport of transports) {
  const t0 = performance.now();
  const rs = transport === 'local' ? await runLocal() : transport === 'worker' ? await runWorkers() : await runChildren();
  for (const r of BENCH_PARTIES) backends.add(rs[r].backend);
  all.push(...rowsOf(transport, rs));
  console.error(`${transport}: done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

// Traffic is the transport's business only if it differs: it must not.
for (const op of new Set(all.map((r) => r.op))) {
  const rows = all.filter((r) => r.op === op);
  for (const r of rows) {
    if (r.rounds !== rows[0]!.rounds || r.bytesPerServer !== rows[0]!.bytesPerServer || r.dealerBytes !== rows[0]!.dealerBytes) {
      throw new Error(`${op}: rounds or bytes differ between transports ${rows[0]!.transport} and ${r.transport}`);
    }
  }
}

const cpu = cpus();
console.log(`MPC protocol bench — ${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, kernels: ${[...backends].join(', ')}`);
console.log(`n = ${int(cfg.n)} elements; LayerNorm [${cfg.ln.join(', ')}]; matmul [${cfg.mm[0]}, ${cfg.mm[1]}]·[${cfg.mm[1]}, ${cfg.mm[2]}]; ` +
  `median of ${cfg.reps} repetition(s); f = 16 fractional bits${quick ? ' (--quick)' : ''}`);
console.log('time = servers\' online time (dealer material already sent); local = all parties on one thread, worker = one thread each, tcp = one process each over loopback');
console.log('bytes = payload bytes sent by one server (the other sends the same); dealer bytes = dealer → S1; matmul bytes/element are per output element, weight.fix per weight entry\n');
console.log(table(
  ['op', 'transport', 'time ms', 'rounds', 'bytes/server', 'bytes/element', 'dealer bytes', 'dealer B/elem', 'dealer ms'],
  all.map((r) => [r.title, r.transport, ms(r.timeMs), String(r.rounds), int(r.bytesPerServer), per(r.bytesPerElement), int(r.dealerBytes), per(r.dealerBytesPerElement), ms(r.dealerMs)]),
  (i) => i >= 2,
));

const ratios: Array<{ transport: Transport; time: number; bytes: number; rounds: number; dealerBytes: number }> = [];
for (const transport of transports) {
  const ours = all.find((r) => r.op === 'cos' && r.transport === transport);
  const base = all.find((r) => r.op === 'cos.crypten' && r.transport === transport);
  if (ours === undefined || base === undefined) continue;
  ratios.push({ transport, time: base.timeMs / ours.timeMs, bytes: base.bytesPerServer / ours.bytesPerServer, rounds: base.rounds / ours.rounds, dealerBytes: base.dealerBytes / ours.dealerBytes });
}
if (ratios.length > 0) {
  console.log(`\ncosine/sine of ${int(cfg.n)} angles: CrypTen's 10 squarings ÷ ours (higher = ours cheaper)`);
  console.log(table(
    ['transport', 'time', 'bytes/server', 'rounds', 'dealer bytes'],
    ratios.map((r) => [r.transport, `${r.time.toFixed(1)}×`, `${r.bytes.toFixed(1)}×`, `${r.rounds.toFixed(0)}×`, `${r.dealerBytes.toFixed(1)}×`]),
    (i) => i >= 1,
  ));
}
const totalS = (performance.now() - started) / 1000;
console.log(`\ntotal ${totalS.toFixed(1)} s; results: ${outFile}`);

mkdirSync(dirname(outFile), { recursive: true });
writeFileSync(outFile, `${JSON.stringify({
  bench: 'mpc',
  command: `node dist/bench/mpc.js ${process.argv.slice(2).join(' ')}`.trim(),
  date: new Date().toISOString(),
  machine: { cpus: cpu.length, model: cpu[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version, kernels: [...backends] },
  config: { ...cfg, fracBits: 16, transports, quick },
  notes: {
    timeMs: 'servers\' online time, median over repetitions of max(S0, S1); dealer material generated and sent before the clock starts',
    bytesPerServer: 'payload bytes S0 sent (S1 sends the same)',
    dealerBytes: 'payload bytes the dealer sent (all to S1)',
    elements: 'matmul: output elements; weight.fix: weight entries; others: input elements',
  },
  rows: all,
  cosineRatio: ratios,
  totalSeconds: totalS,
}, null, 2)}\n`);
