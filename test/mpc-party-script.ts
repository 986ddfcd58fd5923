/**
 * One party of a small MPC program, runnable wherever that party lives: on this thread next to the
 * others (in-process network), in a worker thread of its own (worker transport), or in a child process
 * of its own (TCP over loopback). mpc-transports.test.ts runs the same program over all three and
 * compares shares and meters; mpc-faults.test.ts kills parties of the endless `loop` program and feeds
 * parties bad messages.
 *
 *   worker: new Worker(PARTY_SCRIPT, { workerData: { kind: 'mpc-party', role, ep, spec, linkOpts }, transferList })
 *           posts { type: 'progress', i } per loop iteration, then { type: 'done', result }.
 *   child:  fork(PARTY_SCRIPT, ['--mpc-party-child', role]); over IPC it sends { type: 'listening', address },
 *           waits for { type: 'start', addresses, spec, linkOpts }, then sends progress and done as above.
 *
 * Runs are replayable: the dealer's PRG keys come from `dealerSeed` and the data owner's masks from
 * an `insecureKey`, so every transport must produce the very same shares.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { fixWeight, matmulFixedRaw, matmulManyRaw, mul } from '../ts/mpc/beaver.js';
import { ltz } from '../ts/mpc/compare.js';
import { anglesFromFeatures, cosSin } from '../ts/mpc/cosine.js';
import { InputParty, input, reveal } from '../ts/mpc/io.js';
import { reciprocal } from '../ts/mpc/nonlinear.js';
import { Party, bytesOf } from '../ts/mpc/party.js';
import type { Shared } from '../ts/mpc/shared.js';
import { truncate } from '../ts/mpc/truncation.js';
import { createLocalNetwork } from '../ts/net/local.js';
import type { MeterSnapshot } from '../ts/net/meter.js';
import { connectTcp, listenTcp, type TcpAddress } from '../ts/net/tcp.js';
import type { Link, LinkOptions, PartyId } from '../ts/net/types.js';
import { createWorkerLink, createWorkerMesh, transferListOf, type WorkerEndpoint } from '../ts/net/worker.js';
import { Ring } from '../ts/ring/tensor.js';
import { backend, randomReals } from './helpers.js';

export type PartyRole = 's0' | 's1' | 'dealer' | 'data';
export const PARTIES: readonly PartyRole[] = ['s0', 's1', 'dealer', 'data'];
export const SESSION = 'mpc-party-script';
export const FRAC_BITS = 16;

/** Link options of every run of this module: a recv timeout far above any failure the tests expect. */
export const LINK_OPTS: LinkOptions = { recvTimeoutMs: 30_000 };

/** The module itself, for Worker and fork. */
export const PARTY_SCRIPT = fileURLToPath(import.meta.url);

/** `pipeline`: one pass of several protocols, outputs revealed to the data owner. `loop`: a product per iteration, forever (or `iterations` times). */
export interface ProgramSpec {
  name: 'pipeline' | 'loop';
  /** Byte that fills the dealer's dealerSeed (default 0x5e): a different seed must give different shares. */
  seed?: number;
  /** loop: number of iterations (default: until the session fails). */
  iterations?: number;
}

/** Pipeline dimensions: X [M, K] · W [K, N]; FEATS random-feature angles per row of X. */
export const PIPELINE = { M: 8, K: 16, N: 12, FEATS: 6, RECIP: { lo: -4, hi: 8 } } as const;
/** Elements multiplied per loop iteration. */
export const LOOP_N = 64;

/** The plaintext inputs the data owner shares, in order. */
export function pipelineInputs(): Array<{ values: Float64Array; shape: number[] }> {
  const { M, K, N, RECIP } = PIPELINE;
  const z = randomReals('pz', M * N, 1).map((v) => 2 ** (RECIP.lo + ((v + 1) / 2) * (RECIP.hi - RECIP.lo - 0.01)));
  return [
    { values: randomReals('px', M * K, 2), shape: [M, K] },
    { values: randomReals('pw', K * N, 1), shape: [K, N] },
    { values: randomReals('py', M * N, 4), shape: [M, N] },
    { values: z, shape: [M * N] },
  ];
}

/** Public random-feature rows w [FEATS, K] of the cosine step. */
export function pipelineFeatures(): Float64Array {
  return randomReals('pfeat', PIPELINE.FEATS * PIPELINE.K, 3);
}

/** Names of the pipeline's outputs, in reveal order, with their fractional bits. */
export const PIPELINE_OUTPUTS: ReadonlyArray<{ name: string; bits: number }> = [
  { name: 'X·W (secret × secret)', bits: FRAC_BITS },
  { name: 'X·W (fixed weight)', bits: FRAC_BITS },
  { name: '(X·W)⊙Y', bits: FRAC_BITS },
  { name: '[(X·W)⊙Y < 0]', bits: 0 },
  { name: 'cos(X·wᵀ)', bits: 2 * FRAC_BITS },
  { name: 'sin(X·wᵀ)', bits: 2 * FRAC_BITS },
  { name: '1/Z', bits: FRAC_BITS },
];

export interface PartyResult {
  role: PartyRole;
  /**
   * Servers: their final share of every output; data: every revealed output; dealer: nothing. Each
   * entry is the base64 of the output's u64 words (JSON- and structured-clone-safe).
   */
  words: string[];
  snapshot: MeterSnapshot;
  /** Loop iterations this party completed. */
  iterations: number;
  error?: { code: string; message: string };
}

const b64 = (x: BigUint64Array): string => Buffer.from(bytesOf(x)).toString('base64');

/** Decodes a `words` entry back to u64 words. */
export function wordsOf(s: string): BigUint64Array {
  const b = Buffer.from(s, 'base64');
  const out = new BigUint64Array(b.byteLength / 8);
  new Uint8Array(out.buffer).set(b);
  return out;
}

export interface RunHooks {
  /** Called after every loop iteration this party completes. */
  onProgress?: (i: number) => void;
}

/** The servers' and the dealer's side of a program (SPMD); returns the final shares (dealer: shapes only). */
async function serverProgram(p: Party, spec: ProgramSpec, hooks: RunHooks, counter: { i: number }): Promise<Shared[]> {
  const be = p.ring.backend;
  if (spec.name === 'pipeline') {
    const { M, K, N, FEATS, RECIP } = PIPELINE;
    const X = await input(p, 'data', 'in0', [M, K]);
    const W = await input(p, 'data', 'in1', [K, N]);
    const Y = await input(p, 'data', 'in2', [M, N]);
    const Z = await input(p, 'data', 'in3', [M * N]);
    const [xw] = await matmulManyRaw(p, [X], [W], 'mm');
    const h1 = await truncate(p, xw!, FRAC_BITS, 'mm.trunc');
    const fw = await fixWeight(p, W, 'w.fix');
    const h2 = await truncate(p, await matmulFixedRaw(p, X, fw, 'mm.fixed'), FRAC_BITS, 'mm.fixed.trunc');
    const prod = await mul(p, h2, Y, 'mul');
    const sign = await ltz(p, prod, 'ltz');
    const kT = be.angleScale(pipelineFeatures(), FRAC_BITS);
    const { cos, sin } = await cosSin(p, anglesFromFeatures(p, X, kT, FEATS), 'cos');
    const inv = await reciprocal(p, Z, RECIP, 'recip');
    return [h1, h2, prod, sign, cos, sin, inv];
  }
  const X = await input(p, 'data', 'in0', [LOOP_N]);
  let y = X;
  for (counter.i = 0; spec.iterations === undefined || counter.i < spec.iterations; ) {
    y = await mul(p, X, X, 'loop.mul');
    // The dealer is kept in lockstep (not running ahead without bound) and so is the data owner:
    // every party is waiting on some peer at any moment, which is what the fault tests need.
    if (p.isDealer) {
      await Promise.all([p.link.recv('s0', 'loop.tick'), p.link.recv('s1', 'loop.tick')]);
    } else {
      p.link.send('dealer', 'loop.tick', new Uint8Array(0));
      reveal(p, 'data', 'loop.out', y);
    }
    counter.i++;
    hooks.onProgress?.(counter.i);
  }
  return [y];
}

/** Runs `spec` as `role` on `link`; never throws: a failure aborts the link and is reported in `error`. */
export async function runParty(role: PartyRole, link: Link, spec: ProgramSpec, hooks: RunHooks = {}): Promise<PartyResult> {
  const be = backend('native');
  const ring = new Ring({ backend: be, fracBits: FRAC_BITS });
  const counter = { i: 0 };
  let words: string[] = [];
  let error: PartyResult['error'];
  try {
    if (role === 'data') {
      const d = new InputParty(link, be, new Uint8Array(32).fill(0xda));
      if (spec.name === 'pipeline') {
        pipelineInputs().forEach((x, i) => d.share(`in${i}`, be.encode(x.values, FRAC_BITS)));
        const { M, N, FEATS } = PIPELINE;
        const sizes = [M * N, M * N, M * N, M * N, M * FEATS, M * FEATS, M * N];
        for (const [i, n] of sizes.entries()) words.push(b64(await d.receive(`out${i}`, n)));
      } else {
        d.share('in0', be.encode(randomReals('loop', LOOP_N, 1), FRAC_BITS));
        for (counter.i = 0; spec.iterations === undefined || counter.i < spec.iterations; ) {
          await d.receive('loop.out', LOOP_N);
          counter.i++;
          hooks.onProgress?.(counter.i);
        }
      }
    } else {
      const p = await Party.join(role, { ring, link, dealerSeed: new Uint8Array(32).fill(spec.seed ?? 0x5e) });
      const outs = await serverProgram(p, spec, hooks, counter);
      if (spec.name === 'pipeline') outs.forEach((o, i) => reveal(p, 'data', `out${i}`, o));
      if (!p.isDealer) words = outs.map((o) => b64(o.s));
    }
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    // An error of the protocol layer (e.g. a share of the wrong length) ends the session for everyone.
    link.abort(err);
    const c = (err as { code?: unknown }).code;
    error = { code: typeof c === 'string' ? c : 'ERR_UNKNOWN', message: err.message };
    words = [];
  }
  await link.close().catch(() => undefined);
  const r: PartyResult = { role, words, snapshot: link.meter.snapshot(), iterations: counter.i };
  if (error !== undefined) r.error = error;
  return r;
}

/** All parties on this thread over an in-process network (also: any `links` map, e.g. loopback TCP). */
export async function runInProcess(spec: ProgramSpec, links: Map<PartyId, Link> = createLocalNetwork(SESSION, PARTIES, LINK_OPTS),
  hooks: Partial<Record<PartyRole, RunHooks>> = {}): Promise<Record<PartyRole, PartyResult>> {
  const rs = await Promise.all(PARTIES.map((r) => runParty(r, links.get(r)!, spec, hooks[r])));
  return Object.fromEntries(rs.map((r) => [r.role, r])) as Record<PartyRole, PartyResult>;
}

type Msg = { type: 'progress'; i: number } | { type: 'done'; result: PartyResult } | { type: 'listening'; address: TcpAddress };

/** A party running in a worker or a child process, seen from the parent. */
export class PartyHandle {
  /** performance.now() of the parent when the result arrived. */
  doneAt = NaN;
  readonly result: Promise<PartyResult>;
  private progress = 0;
  private waiters: Array<{ n: number; resolve: () => void; reject: (e: Error) => void }> = [];
  private settle!: { resolve: (r: PartyResult) => void; reject: (e: Error) => void };

  constructor(readonly role: PartyRole, private readonly killer: () => Promise<void>) {
    this.result = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    this.result.catch(() => undefined);
  }

  /** Feeds a message from the party. */
  onMessage(m: Msg): void {
    if (m.type === 'progress') {
      this.progress = m.i;
      this.waiters = this.waiters.filter((w) => (w.n <= m.i ? (w.resolve(), false) : true));
    } else if (m.type === 'done') {
      this.doneAt = performance.now();
      this.settle.resolve(m.result);
      this.failWaiters(new Error(`${this.role} finished after ${m.result.iterations} iterations`));
    }
  }

  /** The party ended without a result (killed, crashed). */
  onExit(why: string): void {
    const e = new Error(`${this.role} exited without a result (${why})`);
    this.settle.reject(e);
    this.failWaiters(e);
  }

  /** Resolves once the party has completed `n` loop iterations. */
  progressed(n: number): Promise<void> {
    if (this.progress >= n) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ n, resolve, reject }));
  }

  /** Terminates the worker / SIGKILLs the process. */
  kill(): Promise<void> {
    return this.killer();
  }

  private failWaiters(e: Error): void {
    for (const w of this.waiters) w.reject(e);
    this.waiters = [];
  }
}

interface WorkerJob {
  kind: 'mpc-party';
  role: PartyRole;
  ep: WorkerEndpoint;
  spec: ProgramSpec;
  linkOpts: LinkOptions;
}

/** Every party in a worker thread of its own, meshed with MessageChannels. */
export function startWorkerParties(spec: ProgramSpec, linkOpts: LinkOptions = LINK_OPTS): Map<PartyRole, PartyHandle> {
  const mesh = createWorkerMesh(PARTIES);
  const out = new Map<PartyRole, PartyHandle>();
  for (const role of PARTIES) {
    const ep = mesh.get(role)!;
    const job: WorkerJob = { kind: 'mpc-party', role, ep, spec, linkOpts };
    const w = new Worker(PARTY_SCRIPT, { workerData: job, transferList: transferListOf(ep) });
    const h = new PartyHandle(role, async () => void (await w.terminate()));
    w.on('message', (m: Msg) => h.onMessage(m));
    w.on('error', (e) => h.onExit(`error: ${e.message}`));
    w.on('exit', (c) => h.onExit(`exit code ${c}`));
    out.set(role, h);
  }
  return out;
}

/** Every party in a child process of its own, meshed over loopback TCP (connectTcp). */
export async function startChildParties(spec: ProgramSpec, linkOpts: LinkOptions = LINK_OPTS): Promise<Map<PartyRole, PartyHandle>> {
  const out = new Map<PartyRole, PartyHandle>();
  const children = new Map<PartyRole, ChildProcess>();
  const listening = PARTIES.map((role) => {
    const child = fork(PARTY_SCRIPT, ['--mpc-party-child', role], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.set(role, child);
    const h = new PartyHandle(role, async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGKILL');
      await gone;
    });
    out.set(role, h);
    return new Promise<[PartyRole, TcpAddress]>((resolve, reject) => {
      child.on('message', (m: Msg) => (m.type === 'listening' ? resolve([role, m.address]) : h.onMessage(m)));
      child.once('error', reject);
      child.on('exit', (c, s) => {
        reject(new Error(`${role} exited before listening`));
        h.onExit(s ?? `exit code ${c}`);
      });
    });
  });
  const addresses = Object.fromEntries(await Promise.all(listening)) as Record<PartyRole, TcpAddress>;
  for (const child of children.values()) child.send({ type: 'start', addresses, spec, linkOpts });
  return out;
}

/** Waits for every party's result (rejects if any party died without one). */
export async function results(handles: Map<PartyRole, PartyHandle>): Promise<Record<PartyRole, PartyResult>> {
  const rs = await Promise.all(PARTIES.map((r) => handles.get(r)!.result));
  return Object.fromEntries(rs.map((r) => [r.role, r])) as Record<PartyRole, PartyResult>;
}

async function workerMain(job: WorkerJob): Promise<void> {
  const link = createWorkerLink(SESSION, job.ep, job.linkOpts);
  const r = await runParty(job.role, link, job.spec, { onProgress: (i) => parentPort!.postMessage({ type: 'progress', i }) });
  parentPort!.postMessage({ type: 'done', result: r });
}

async function childMain(role: PartyRole): Promise<void> {
  const listener = await listenTcp({ host: '127.0.0.1', port: 0 });
  const start = new Promise<{ addresses: Record<PartyRole, TcpAddress>; spec: ProgramSpec; linkOpts: LinkOptions }>((resolve) => {
    process.once('message', (m) => resolve(m as never));
  });
  process.send!({ type: 'listening', address: listener.address });
  const { addresses, spec, linkOpts } = await start;
  const link = await connectTcp({ ...linkOpts, self: role, session: SESSION, parties: PARTIES, listener, addresses, connectTimeoutMs: 20_000 });
  const r = await runParty(role, link, spec, { onProgress: (i) => process.send!({ type: 'progress', i }) });
  process.send!({ type: 'done', result: r }, () => process.disconnect());
}

if (!isMainThread && (workerData as Partial<WorkerJob> | null)?.kind === 'mpc-party') {
  await workerMain(workerData as WorkerJob);
} else if (isMainThread && process.argv[2] === '--mpc-party-child') {
  await childMain(process.argv[3] as PartyRole);
}
