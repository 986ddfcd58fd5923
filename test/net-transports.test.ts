/**
 * One exchange pattern over every transport: the received bytes and every party's meter snapshot must
 * be identical. This file is also the script of the worker-thread parties (it then skips ava).
 */
import { createHash } from 'node:crypto';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import type { TestFn } from 'ava';
import { createLocalNetwork } from '../ts/net/local.js';
import type { MeterSnapshot } from '../ts/net/meter.js';
import { createTcpNetwork } from '../ts/net/tcp.js';
import type { Link, PartyId } from '../ts/net/types.js';
import { createWorkerLink, createWorkerMesh, transferListOf, type WorkerEndpoint } from '../ts/net/worker.js';

const PARTIES: PartyId[] = ['s0', 's1', 'dealer'];
const SESSION = 'exchange-session';

/** Deterministic bytes (xorshift32) for a label. */
function bytes(label: string, n: number): Uint8Array {
  let x = 2166136261;
  for (const c of label) x = Math.imul(x ^ c.charCodeAt(0), 16777619) >>> 0;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

interface ExchangeResult {
  received: string[];
  snapshot: MeterSnapshot;
  notOwned: number;
}

/** A protocol-shaped exchange between s0, s1 and the dealer; every party runs this same program. */
async function exchange(link: Link): Promise<ExchangeResult> {
  const me = link.self;
  const received: string[] = [];
  let notOwned = 0;
  // Concurrent receives finish in a timing-dependent order, so entries go in a slot fixed at call time.
  const rec = async (from: PartyId, op: string): Promise<Uint8Array> => {
    const slot = received.push('') - 1;
    const b = await link.recv(from, op);
    if (b.constructor !== Uint8Array || b.byteOffset !== 0 || b.buffer.byteLength !== b.byteLength) notOwned++;
    received[slot] = `${from}>${me}:${op}:${b.byteLength}:${createHash('sha256').update(b).digest('hex').slice(0, 16)}`;
    return b;
  };
  const peer: PartyId = me === 's0' ? 's1' : 's0';
  // Set-up: the dealer sends each server a seed.
  if (me === 'dealer') {
    link.send('s0', 'setup.seed', bytes('seed0', 32));
    link.send('s1', 'setup.seed', bytes('seed1', 32));
  } else {
    await rec('dealer', 'setup.seed');
  }
  // An opening between the servers: bodies are views into the middle of a BigUint64Array.
  if (me !== 'dealer') {
    const words = new BigUint64Array(bytes(`open.${me}`, 8 * 1000).buffer);
    link.send(peer, 'matmul.open', new Uint8Array(words.buffer, 8 * 10, 8 * 900));
    link.meter.round('matmul.open');
    await rec(peer, 'matmul.open');
  }
  // Correlated randomness: many small messages, one empty, one larger than a socket chunk.
  if (me === 'dealer') {
    for (let i = 0; i < 40; i++) link.send('s1', 'triples', bytes(`t${i}`, 8 * (i + 1)));
    link.send('s1', 'triples', new Uint8Array(0));
    link.send('s0', 'trunc', bytes('big', 3 * 1024 * 1024 + 5));
  } else if (me === 's1') {
    for (let i = 0; i < 41; i++) await rec('dealer', 'triples');
  } else {
    await rec('dealer', 'trunc');
  }
  // Both servers send before receiving, several rounds, interleaved ops.
  for (let r = 0; r < 5; r++) {
    if (me === 'dealer') continue;
    link.send(peer, 'cos.open', bytes(`cos.${me}.${r}`, 64 * (r + 1)));
    link.send(peer, 'cos.extra', bytes(`extra.${me}.${r}`, 7));
    link.meter.round('cos.open');
    const [a] = await Promise.all([rec(peer, 'cos.open'), rec(peer, 'cos.extra')]);
    if (a.byteLength !== 64 * (r + 1)) throw new Error('wrong size');
  }
  // Reveal to the dealer (stands in for an output party).
  if (me === 'dealer') {
    await Promise.all([rec('s0', 'reveal'), rec('s1', 'reveal')]);
  } else {
    link.send('dealer', 'reveal', bytes(`reveal.${me}`, 4096));
  }
  return { received, snapshot: link.meter.snapshot(), notOwned };
}

async function runAll(links: Map<PartyId, Link>): Promise<Map<PartyId, ExchangeResult>> {
  const out = await Promise.all(PARTIES.map((p) => exchange(links.get(p)!)));
  await Promise.all(PARTIES.map((p) => links.get(p)!.close()));
  return new Map(PARTIES.map((p, i) => [p, out[i]!]));
}

interface WorkerJob {
  mode: 'exchange' | 'hang';
  ep: WorkerEndpoint;
}

/** Worker-thread side: join the mesh and either run the exchange or wait forever. */
async function workerMain(job: WorkerJob): Promise<void> {
  const link = createWorkerLink(SESSION, job.ep, { recvTimeoutMs: 20_000 });
  if (job.mode === 'hang') {
    parentPort!.postMessage({ ready: true });
    await link.recv(job.ep.self === 's0' ? 's1' : 's0', 'never').catch(() => undefined);
    return;
  }
  const r = await exchange(link);
  await link.close();
  parentPort!.postMessage(r);
}

function startWorker(job: WorkerJob): Worker {
  return new Worker(new URL(import.meta.url), { workerData: job, transferList: transferListOf(job.ep) });
}

function waitMessage<T>(w: Worker): Promise<T> {
  return new Promise((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
    w.once('exit', (c) => reject(new Error(`worker exited with ${c}`)));
  });
}

async function runWorkers(): Promise<Map<PartyId, ExchangeResult>> {
  const mesh = createWorkerMesh(PARTIES);
  // s0 and s1 in real worker threads, the dealer on this thread.
  const workers = (['s0', 's1'] as const).map((p) => startWorker({ mode: 'exchange', ep: mesh.get(p)! }));
  const results = workers.map((w) => waitMessage<ExchangeResult>(w));
  const dealer = createWorkerLink(SESSION, mesh.get('dealer')!);
  const d = await exchange(dealer);
  await dealer.close();
  const [r0, r1] = await Promise.all(results);
  await Promise.all(workers.map((w) => w.terminate()));
  return new Map([
    ['s0', r0!],
    ['s1', r1!],
    ['dealer', d],
  ]);
}

async function registerTests(): Promise<void> {
  const { default: test } = (await import('ava')) as { default: TestFn };

  test('local, worker and TCP transports deliver identical bytes and identical meter snapshots', async (t) => {
    const local = await runAll(createLocalNetwork(SESSION, PARTIES));
    const worker = await runWorkers();
    const tcp = await runAll(await createTcpNetwork(SESSION, PARTIES, { connectTimeoutMs: 10_000 }));
    for (const p of PARTIES) {
      const l = local.get(p)!;
      t.is(l.notOwned, 0, `${p}: every body owns its ArrayBuffer`);
      t.deepEqual(worker.get(p)!, l, `${p}: worker == local`);
      t.deepEqual(tcp.get(p)!, l, `${p}: tcp == local`);
    }
    // Spot-check the meter against the pattern.
    const s0 = local.get('s0')!.snapshot;
    t.is(s0.ops['matmul.open']!.rounds, 1);
    t.is(s0.ops['matmul.open']!.bytesSent, 7200);
    t.is(s0.ops['matmul.open']!.bytesReceived, 7200);
    t.is(s0.ops['trunc']!.bytesReceived, 3 * 1024 * 1024 + 5);
    t.is(s0.total.rounds, 6);
    t.is(local.get('s1')!.snapshot.peers.dealer!.msgsReceived, 42);
    t.is(local.get('dealer')!.snapshot.total.bytesSent, 64 + 40 * 41 * 4 + 3 * 1024 * 1024 + 5);
  });

  test('a terminated worker makes the other parties fail fast with ERR_PEER_CLOSED', async (t) => {
    const mesh = createWorkerMesh(PARTIES);
    const w = startWorker({ mode: 'hang', ep: mesh.get('s1')! });
    await waitMessage(w);
    const s0 = createWorkerLink(SESSION, mesh.get('s0')!, { recvTimeoutMs: 30_000 });
    const dealer = createWorkerLink(SESSION, mesh.get('dealer')!, { recvTimeoutMs: 30_000 });
    const started = Date.now();
    const fromS1 = s0.recv('s1', 'matmul.open');
    const fromS0 = dealer.recv('s0', 'reveal');
    await w.terminate();
    const e1 = await t.throwsAsync(fromS1, { code: 'ERR_PEER_CLOSED' });
    t.regex(e1!.message, /s1/);
    // The dealer waits on s0, not on s1: it learns from s0's abort, or from its own port to s1.
    await t.throwsAsync(fromS0, { code: 'ERR_PEER_CLOSED' });
    t.true(Date.now() - started < 5000);
    await t.throwsAsync(s0.recv('dealer', 'later'), { code: 'ERR_PEER_CLOSED' });
    await Promise.all([s0.close(), dealer.close()]);
  });
}

if (isMainThread) await registerTests();
else await workerMain(workerData as WorkerJob);
