/**
 * The party side of the MPC protocol bench (bench/mpc.ts): S0, S1, the dealer and the data owner run
 * `benchParty`, on one thread together (in-process transport), each in a worker thread (worker
 * transport), or each in a child process over loopback TCP.
 *
 * Every op is measured between barriers, so that its time is the servers' *online* time:
 *   dealer:  run the op (expands and sends all its correlated randomness) → 'bench.ready' to S0 and S1
 *            → wait for 'bench.done' from both (so it does not compete for the CPU while they run);
 *   servers: wait for 'bench.ready', exchange 'bench.go' with the other server, start the clock, run
 *            the op, stop the clock, send 'bench.done'.
 * Each party reports per op and repetition its own elapsed time and the difference of its meter totals
 * across the op (barrier messages fall outside that window). The data owner shares every input in the
 * untimed set-up, which also opens the LayerNorm gamma once (a fixed weight).
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { SecpError, loadBackend } from '../bindings/index.js';
import { fixWeight, matmulFixedRaw, matmulManyRaw, mul, type FixedWeight } from '../ts/mpc/beaver.js';
import { ltz, relu } from '../ts/mpc/compare.js';
import { anglesFromFeatures, cosSin, cosSinCrypten } from '../ts/mpc/cosine.js';
import { InputParty, input } from '../ts/mpc/io.js';
import { exp, gelu, layerNorm, reciprocal, rsqrt } from '../ts/mpc/nonlinear.js';
import { Party, type Role } from '../ts/mpc/party.js';
import type { Shared } from '../ts/mpc/shared.js';
import { truncate } from '../ts/mpc/truncation.js';
import type { OpStats } from '../ts/net/meter.js';
import { connectTcp, listenTcp, type TcpAddress } from '../ts/net/tcp.js';
import type { Link, LinkOptions, PartyId } from '../ts/net/types.js';
import { createWorkerLink, type WorkerEndpoint } from '../ts/net/worker.js';
import { FRAC_BITS, Ring } from '../ts/ring/tensor.js';

export type BenchRole = Role | 'data';
export const BENCH_PARTIES: readonly BenchRole[] = ['s0', 's1', 'dealer', 'data'];
export const BENCH_SESSION = 'bench-mpc';
/** Generous: the in-process transport runs a 20-threshold reciprocal of 2^16 elements on one thread. */
export const BENCH_LINK_OPTS: LinkOptions = { recvTimeoutMs: 600_000 };
export const BENCH_WORKER = fileURLToPath(import.meta.url);

export interface BenchConfig {
  /** Elements of every elementwise op. */
  n: number;
  /** Matmul [m, k] · [k, n]. */
  mm: [number, number, number];
  /** LayerNorm input [rows, cols]. */
  ln: [number, number];
  /** Repetitions of every op (ops marked `once`: 1). */
  reps: number;
}

/** What the data owner shares, with deterministic values (the inputs of the ops below). */
interface Inputs {
  x: Shared;
  y: Shared;
  pos: Shared;
  neg: Shared;
  lnX: Shared;
  gamma: Shared;
  beta: Shared;
  X: Shared;
  W: Shared;
}

interface State {
  inputs: Inputs;
  gamma: FixedWeight;
  kT: BigUint64Array;
  fixed?: FixedWeight;
}

export interface BenchOp {
  /** Op label (and meter label prefix). */
  id: string;
  title: string;
  /** Elements the bytes are divided by. */
  elements: (c: BenchConfig) => number;
  /** What an "element" is, when it is not obvious. */
  unit?: string;
  /** Run once per session, not per repetition. */
  once?: boolean;
  run: (p: Party, s: State, c: BenchConfig) => Promise<unknown>;
}

/** Input ranges: inside every op's documented domain. */
export const RECIP_RANGE = { lo: -8, hi: 12 } as const;
export const RSQRT_RANGE = { lo: -12, hi: 12 } as const;

export const BENCH_OPS: readonly BenchOp[] = [
  { id: 'mul', title: 'mul (Beaver + truncation)', elements: (c) => c.n, run: (p, s) => mul(p, s.inputs.x, s.inputs.y, 'mul') },
  { id: 'trunc', title: 'truncation', elements: (c) => c.n, run: (p, s) => truncate(p, s.inputs.x, FRAC_BITS, 'trunc') },
  { id: 'ltz', title: 'ltz (sign)', elements: (c) => c.n, run: (p, s) => ltz(p, s.inputs.x, 'ltz') },
  { id: 'relu', title: 'relu', elements: (c) => c.n, run: (p, s) => relu(p, s.inputs.x, 'relu') },
  {
    id: 'cos',
    title: 'cosSin (ours, 1 round)',
    elements: (c) => c.n,
    run: (p, s, c) => cosSin(p, anglesFromFeatures(p, s.inputs.x.reshape([c.n, 1]), s.kT, 1), 'cos'),
  },
  { id: 'cos.crypten', title: 'cosSinCrypten (baseline)', elements: (c) => c.n, run: (p, s) => cosSinCrypten(p, s.inputs.x, 'cos.crypten') },
  { id: 'recip', title: `reciprocal [2^${RECIP_RANGE.lo}, 2^${RECIP_RANGE.hi})`, elements: (c) => c.n, run: (p, s) => reciprocal(p, s.inputs.pos, RECIP_RANGE, 'recip') },
  { id: 'rsqrt', title: `rsqrt [2^${RSQRT_RANGE.lo}, 2^${RSQRT_RANGE.hi})`, elements: (c) => c.n, run: (p, s) => rsqrt(p, s.inputs.pos, RSQRT_RANGE, 'rsqrt') },
  { id: 'exp', title: 'exp (x ≤ 0)', elements: (c) => c.n, run: (p, s) => exp(p, s.inputs.neg, 'exp') },
  { id: 'gelu', title: 'gelu', elements: (c) => c.n, run: (p, s) => gelu(p, s.inputs.x, 'gelu') },
  {
    id: 'layernorm',
    title: 'layerNorm',
    elements: (c) => c.ln[0] * c.ln[1],
    run: (p, s) => layerNorm(p, s.inputs.lnX, { gamma: s.gamma, beta: s.inputs.beta, eps: 1e-5 }, 'layernorm'),
  },
  {
    id: 'matmul',
    title: 'matmul secret×secret (Beaver)',
    elements: (c) => c.mm[0] * c.mm[2],
    unit: 'output element',
    run: (p, s) => matmulManyRaw(p, [s.inputs.X], [s.inputs.W], 'matmul'),
  },
  {
    id: 'weight.fix',
    title: 'fixed weight: open F = W − B (once per session)',
    elements: (c) => c.mm[1] * c.mm[2],
    unit: 'weight entry',
    once: true,
    run: async (p, s) => (s.fixed = await fixWeight(p, s.inputs.W, 'weight.fix')),
  },
  {
    id: 'matmul.fixed',
    title: 'matmul fixed weight (mask reuse)',
    elements: (c) => c.mm[0] * c.mm[2],
    unit: 'output element',
    run: (p, s) => matmulFixedRaw(p, s.inputs.X, s.fixed!, 'matmul.fixed'),
  },
];

/** One op repetition as one party saw it. */
export interface OpRecord {
  op: string;
  rep: number;
  /** Elapsed ms: servers, the online part; dealer, generating and sending its share of the op. */
  ms: number;
  traffic: OpStats;
}

export interface BenchPartyResult {
  role: BenchRole;
  backend: string;
  records: OpRecord[];
  setupMs: number;
  error?: string;
}

function diff(a: OpStats, b: OpStats): OpStats {
  return {
    rounds: b.rounds - a.rounds,
    msgsSent: b.msgsSent - a.msgsSent,
    msgsReceived: b.msgsReceived - a.msgsReceived,
    bytesSent: b.bytesSent - a.bytesSent,
    bytesReceived: b.bytesReceived - a.bytesReceived,
  };
}

/** Deterministic reals in [lo, hi) (a Weyl sequence: well spread, no generator state to carry). */
function reals(n: number, lo: number, hi: number, salt: number): Float64Array {
  const g = 0.6180339887498949;
  return Float64Array.from({ length: n }, (_, i) => lo + (hi - lo) * ((salt * 0.1234567 + (i + 1) * g) % 1));
}

function plainInputs(c: BenchConfig): Array<[keyof Inputs, number[], Float64Array]> {
  const [m, k, nn] = c.mm;
  const [rows, cols] = c.ln;
  return [
    ['x', [c.n], reals(c.n, -4, 4, 1)],
    ['y', [c.n], reals(c.n, -4, 4, 2)],
    // Inside both the reciprocal's and the rsqrt's range.
    ['pos', [c.n], reals(c.n, -4, 8, 3).map((v) => 2 ** v)],
    ['neg', [c.n], reals(c.n, -12, 0, 4)],
    ['lnX', [rows, cols], reals(rows * cols, -3, 3, 5)],
    ['gamma', [1, cols], reals(cols, 0.5, 1.5, 6)],
    ['beta', [cols], reals(cols, -0.5, 0.5, 7)],
    ['X', [m, k], reals(m * k, -2, 2, 8)],
    ['W', [k, nn], reals(k * nn, -0.1, 0.1, 9)],
  ];
}

/**
 * The link as the bench's parties use it: the dealer logs the labels it sends to S1 during an op, and S1
 * can fetch those messages before the clock starts, so that the op's correlated randomness is in S1's
 * memory when the online phase begins (as after a real offline phase), whatever the transport.
 */
class BenchLink implements Link {
  /** Dealer: labels sent to S1 since the last `takeLog`. */
  private log: string[] = [];
  /** S1: messages from the dealer received ahead of the protocol. */
  private fetched: Array<{ op: string; body: Uint8Array }> = [];

  constructor(private readonly inner: Link) {}

  get self(): PartyId {
    return this.inner.self;
  }

  get session(): string {
    return this.inner.session;
  }

  get meter(): Link['meter'] {
    return this.inner.meter;
  }

  send(to: PartyId, op: string, body: Uint8Array): void {
    if (to === 's1' && !op.startsWith('bench.')) this.log.push(op);
    this.inner.send(to, op, body);
  }

  recv(from: PartyId, op: string): Promise<Uint8Array> {
    const head = from === 'dealer' ? this.fetched.shift() : undefined;
    if (head === undefined) return this.inner.recv(from, op);
    if (head.op !== op) return Promise.reject(new SecpError('ERR_PROTOCOL_MISMATCH', `bench prefetch: expected '${op}', fetched '${head.op}'`));
    return Promise.resolve(head.body);
  }

  takeLog(): string[] {
    const l = this.log;
    this.log = [];
    return l;
  }

  async prefetch(labels: readonly string[]): Promise<void> {
    for (const op of labels) this.fetched.push({ op, body: await this.inner.recv('dealer', op) });
  }

  abort(reason: Error): void {
    this.inner.abort(reason);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

const utf8 = new TextEncoder();
const fromUtf8 = (b: Uint8Array): string[] => JSON.parse(new TextDecoder().decode(b)) as string[];

/**
 * Dealer, after generating an op: tells S0 which messages it sent S1. Servers: S0 passes the list to
 * S1, S1 fetches those messages, then both servers confirm to each other and start the clock together.
 */
async function barrierBefore(p: Party, link: BenchLink): Promise<void> {
  if (p.isDealer) {
    link.send('s0', 'bench.ready', utf8.encode(JSON.stringify(link.takeLog())));
    return;
  }
  if (p.index === 0) {
    const labels = await link.recv('dealer', 'bench.ready');
    link.send('s1', 'bench.go', labels);
    await link.recv('s1', 'bench.go');
  } else {
    await link.prefetch(fromUtf8(await link.recv('s0', 'bench.go')));
    link.send('s0', 'bench.go', new Uint8Array(0));
  }
}

/** Runs every op of `ops` (`cfg.reps` times) as `role`; the link is closed at the end. */
export async function benchParty(role: BenchRole, rawLink: Link, cfg: BenchConfig, onlyOps?: readonly string[]): Promise<BenchPartyResult> {
  const link = new BenchLink(rawLink);
  const backend = loadBackend();
  const ring = new Ring({ backend, fracBits: FRAC_BITS });
  const records: OpRecord[] = [];
  const t0 = performance.now();
  let setupMs = 0;
  try {
    if (role === 'data') {
      const d = new InputParty(link, backend);
      for (const [name, , values] of plainInputs(cfg)) d.share(`in.${name}`, backend.encode(values, FRAC_BITS));
      setupMs = performance.now() - t0;
    } else {
      const p = await Party.join(role, { ring, link });
      const inputs = {} as Inputs;
      for (const [name, shape] of plainInputs(cfg)) inputs[name] = await input(p, 'data', `in.${name}`, shape);
      const state: State = { inputs, gamma: await fixWeight(p, inputs.gamma, 'layernorm.gamma.fix'), kT: backend.angleScale(Float64Array.of(1), FRAC_BITS) };
      setupMs = performance.now() - t0;
      link.takeLog(); // the set-up's messages were received in the set-up
      for (const op of BENCH_OPS) {
        if (onlyOps !== undefined && !onlyOps.includes(op.id) && !(op.id === 'weight.fix' && onlyOps.includes('matmul.fixed'))) continue;
        for (let rep = 0; rep < (op.once ? 1 : cfg.reps); rep++) {
          if (p.isDealer) {
            const before = link.meter.snapshot().total;
            const start = performance.now();
            await op.run(p, state, cfg);
            const ms = performance.now() - start;
            records.push({ op: op.id, rep, ms, traffic: diff(before, link.meter.snapshot().total) });
            await barrierBefore(p, link);
            await Promise.all([link.recv('s0', 'bench.done'), link.recv('s1', 'bench.done')]);
          } else {
            await barrierBefore(p, link);
            const before = link.meter.snapshot().total;
            const start = performance.now();
            await op.run(p, state, cfg);
            const ms = performance.now() - start;
            records.push({ op: op.id, rep, ms, traffic: diff(before, link.meter.snapshot().total) });
            link.send('dealer', 'bench.done', new Uint8Array(0));
          }
        }
      }
    }
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    link.abort(err);
    await link.close().catch(() => undefined);
    return { role, backend: backend.name, records, setupMs, error: `${(err as { code?: string }).code ?? 'Error'}: ${err.message}` };
  }
  await link.close();
  return { role, backend: backend.name, records, setupMs };
}

/** workerData of a bench worker. */
export interface BenchWorkerJob {
  kind: 'mpc-bench';
  role: BenchRole;
  ep: WorkerEndpoint;
  cfg: BenchConfig;
  only?: string[];
}

/** IPC messages of a bench child process. */
export type BenchChildMessage =
  | { type: 'listening'; address: TcpAddress }
  | { type: 'done'; result: BenchPartyResult };

export interface BenchChildStart {
  type: 'start';
  addresses: Record<BenchRole, TcpAddress>;
  cfg: BenchConfig;
  only?: string[];
}

/** Starts a child process running one bench party (it then speaks BenchChildMessage over IPC). */
export function forkBenchChild(role: BenchRole): ReturnType<typeof fork> {
  return fork(BENCH_WORKER, ['--mpc-bench-child', role], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

async function childMain(role: BenchRole): Promise<void> {
  const listener = await listenTcp({ host: '127.0.0.1', port: 0 });
  const start = new Promise<BenchChildStart>((resolve) => process.once('message', (m) => resolve(m as BenchChildStart)));
  process.send!({ type: 'listening', address: listener.address } satisfies BenchChildMessage);
  const { addresses, cfg, only } = await start;
  const link = await connectTcp({
    ...BENCH_LINK_OPTS,
    self: role as PartyId,
    session: BENCH_SESSION,
    parties: BENCH_PARTIES,
    listener,
    addresses,
    connectTimeoutMs: 30_000,
  });
  const result = await benchParty(role, link, cfg, only);
  process.send!({ type: 'done', result } satisfies BenchChildMessage, () => process.disconnect());
}

if (!isMainThread && (workerData as Partial<BenchWorkerJob> | null)?.kind === 'mpc-bench') {
  const job = workerData as BenchWorkerJob;
  const result = await benchParty(job.role, createWorkerLink(BENCH_SESSION, job.ep, BENCH_LINK_OPTS), job.cfg, job.only);
  parentPort!.postMessage(result);
} else if (isMainThread && process.argv[2] === '--mpc-bench-child') {
  await childMain(process.argv[3] as BenchRole);
}
