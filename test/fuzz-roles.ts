/**
 * Fuzzing of every listening role over loopback TCP (`npm run fuzz`, and at a smaller count by
 * test/fuzz.test.ts).
 *
 * Part 1, the role processes. S0, S1, the dealer (`secp-tune serve`) and the model owner (`share-model`) are
 * started on a job with a secret, as in a deployment; while they wait for the data owner, each one's port gets
 * seeded cases from a stranger: truncated frames, length prefixes 0 / 2^31 / 2^32-1, wrong MessagePack types,
 * wrong session ids and versions, wrong or missing MACs, data frames with duplicated sequence numbers, random
 * bytes; plus a slow-drip connection and 50 connections opened and dropped. Each case must end with a named
 * reject or a close within the handshake deadline (else: a hang); a role that exits is a crash; the roles'
 * RSS is read before and after. Then the data owner joins and a legitimate tuning run must succeed.
 *
 * Part 2, an authenticated peer. In this process, an s1 link with a fake s0 that completed the handshake (no
 * secret): after a correct message, a mutated one (wrong types, wrong session, version, sequence number, op,
 * sender, truncated, random bytes). The link must fail with a named error code, and nothing may hang.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Packr } from 'msgpackr';
import { parseCommand } from '../ts/cli/options.js';
import { writeLocalJob } from '../ts/cli/roles.js';
import { TUNE_COMMAND, prepare } from '../ts/cli/tune.js';
import { writeTinyModel } from '../ts/model/tiny.js';
import { encodeDataFrame } from '../ts/net/frame.js';
import { connectTcp, listenTcp } from '../ts/net/tcp.js';
import { PROTOCOL_VERSION, type PartyId } from '../ts/net/types.js';
import { sessionId, type Job } from '../ts/tuning/mpc-evaluator.js';
import { Xoshiro128ss } from '../ts/tuning/rng.js';

const CLI = fileURLToPath(new URL('../ts/cli/main.js', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../../test/fixtures/', import.meta.url));
const packr = new Packr({ useRecords: false, variableMapSize: true });
/** The roles' handshake deadline (NET_DEFAULTS.handshakeTimeoutMs) plus a margin: a case still open then hangs. */
const CASE_DEADLINE_MS = 13_000;

export interface FuzzReport {
  seed: number;
  cases: number;
  crashes: number;
  hangs: number;
  /** Outcome counts: 'reject ERR_…' (answered with a named reject), 'closed' (closed without a word). */
  outcomes: Record<string, number>;
  /** Per role: RSS before and after the fuzzing (MiB), from /proc; null where it cannot be read. */
  rss: Record<string, { beforeMiB: number | null; afterMiB: number | null }>;
  /** Rejected connections the roles logged, with a named code. */
  logged: number;
  /** The legitimate run afterwards: exit codes of the data owner and the four roles. */
  legitimate: { dataOwner: number | null; roles: Record<string, number | null> };
  /** Part 2: cases, and the error codes the link failed with. */
  link: { cases: number; hangs: number; codes: Record<string, number> };
}

type Rand = () => number;

function frame(obj: unknown): Buffer {
  const doc = packr.pack(obj);
  const out = Buffer.allocUnsafe(4 + doc.length);
  out.writeUInt32BE(doc.length, 0);
  out.set(doc, 4);
  return out;
}

function prefix(n: number, rest: Uint8Array = new Uint8Array(0)): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0, 0);
  return Buffer.concat([b, rest]);
}

const WRONG_TYPES: unknown[] = [null, true, 1.5, -1, 2 ** 53, 'x'.repeat(300), [], [1, 2], {}, new Uint8Array(3), { nested: { deep: [1] } }];

/** One stranger's bytes for a role listening as `self`, in a session named `session`. */
function strangerCase(rand: Rand, session: string, self: PartyId): { name: string; bytes: Buffer[] } {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const hello = { magic: 'SECP', v: PROTOCOL_VERSION, k: 'hello', s: session, f: pick(['s0', 's1', 'dealer', 'data'] as const), t: self, n: randomBytes(32), x: true };
  const kinds = [
    () => ({ name: 'truncated frame', bytes: [frame(hello).subarray(0, 1 + Math.floor(rand() * 40))] }),
    () => ({ name: 'length 0', bytes: [prefix(0)] }),
    () => ({ name: 'length 2^31', bytes: [prefix(2 ** 31, randomBytes(16))] }),
    () => ({ name: 'length 2^32-1', bytes: [prefix(2 ** 32 - 1, randomBytes(16))] }),
    () => ({ name: 'length larger than what follows', bytes: [prefix(100 + Math.floor(rand() * 3000), randomBytes(20))] }),
    () => ({ name: 'not MessagePack', bytes: [prefix(3, Buffer.from([0xc1, 0xc1, 0xc1]))] }),
    () => ({ name: 'handshake field of a wrong type', bytes: [frame({ ...hello, [pick(['magic', 'v', 'k', 's', 'f', 't', 'n', 'x'])]: pick(WRONG_TYPES) })] }),
    () => ({ name: 'frame that is not a map', bytes: [frame(pick(WRONG_TYPES))] }),
    () => ({ name: 'wrong session id', bytes: [frame({ ...hello, s: pick([`${session}x`, 'train-0000000000000000', '', session.toUpperCase()]) })] }),
    () => ({ name: 'wrong version', bytes: [frame({ ...hello, v: pick([0, 1, PROTOCOL_VERSION + 1, 2 ** 31, -5]) })] }),
    () => ({ name: 'no secret', bytes: [frame({ ...hello, x: false })] }),
    () => ({ name: 'wrong MAC', bytes: [frame(hello), frame({ magic: 'SECP', v: PROTOCOL_VERSION, k: 'auth', a: randomBytes(32) })] }),
    () => ({ name: 'data frames, duplicated sequence numbers', bytes: [0, 0, 1, 1].map((q) => encodeDataFrame({ v: PROTOCOL_VERSION, s: session, o: 'x', q, f: 's0', b: randomBytes(16), t: 0 }, 1 << 20)) }),
    () => ({ name: 'hello, then a data frame', bytes: [frame(hello), encodeDataFrame({ v: PROTOCOL_VERSION, s: session, o: 'x', q: 0, f: hello.f, b: randomBytes(8), t: 0 }, 1 << 20)] }),
    () => ({ name: 'random bytes', bytes: [randomBytes(1 + Math.floor(rand() * 5000))] }),
    () => ({ name: 'a valid frame cut and padded with random bytes', bytes: [Buffer.concat([frame(hello).subarray(0, 30), randomBytes(Math.floor(rand() * 200))])] }),
  ];
  return pick(kinds)();
}

/** Opens a connection, writes the case, and reports how it ended: 'reject CODE', 'closed' or 'hang'. */
function runCase(port: number, bytes: Buffer[]): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let got = Buffer.alloc(0);
    const timer = setTimeout(() => {
      s.destroy();
      resolve('hang');
    }, CASE_DEADLINE_MS);
    s.on('error', () => undefined);
    s.on('data', (d: Buffer) => (got = Buffer.concat([got, d]).subarray(0, 8192)));
    s.on('connect', () => {
      for (const b of bytes) s.write(b);
    });
    s.on('close', () => {
      clearTimeout(timer);
      let outcome = 'closed';
      try {
        const m = /ERR_[A-Z_]+/.exec(got.toString('latin1'));
        if (m) outcome = `reject ${m[0]}`;
      } catch {
        // nothing readable: closed
      }
      resolve(outcome);
    });
  });
}

/** A valid hello, one byte every `everyMs`: the role must close it at its handshake deadline. */
function slowDrip(port: number, session: string, self: PartyId, everyMs: number): Promise<string> {
  const bytes = frame({ magic: 'SECP', v: PROTOCOL_VERSION, k: 'hello', s: session, f: 's0', t: self, n: randomBytes(32), x: true });
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let i = 0;
    const drip = setInterval(() => {
      if (i < bytes.length) s.write(bytes.subarray(i, ++i));
    }, everyMs);
    const timer = setTimeout(() => {
      s.destroy();
      resolve('hang');
    }, CASE_DEADLINE_MS);
    s.on('error', () => undefined);
    s.on('close', () => {
      clearInterval(drip);
      clearTimeout(timer);
      resolve(i < bytes.length ? 'closed' : 'hang');
    });
  });
}

function rssMiB(pid: number | undefined): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

async function pool<T>(items: (() => Promise<T>)[], width: number): Promise<T[]> {
  const out: T[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await items[i]!();
    }
  }));
  return out;
}

interface Proc {
  child: ChildProcess;
  stderr: string;
  exit: Promise<number | null>;
}

function start(args: string[]): Proc {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  const p: Proc = { child, stderr: '', exit: new Promise((r) => child.on('exit', (code) => r(code))) };
  child.stderr!.on('data', (d: Buffer) => (p.stderr = (p.stderr + d.toString()).slice(-1_000_000)));
  return p;
}

/** Part 2: mutated messages from an authenticated peer fail the link with a named code. */
async function fuzzLink(rand: Rand, cases: number): Promise<FuzzReport['link']> {
  const codes: Record<string, number> = {};
  let hangs = 0;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const good = { v: PROTOCOL_VERSION, s: 'fz', o: 'x', q: 1, f: 's0', b: new Uint8Array(8), t: 0 };
  const mutations: (() => Buffer)[] = [
    () => frame({ ...good, [pick(['v', 's', 'o', 'q', 'f', 'b', 't'])]: pick(WRONG_TYPES) }),
    () => frame({ ...good, q: pick([0, 2, 1000]) }),
    () => frame({ ...good, s: 'other' }),
    () => frame({ ...good, v: PROTOCOL_VERSION + 1 }),
    () => frame({ ...good, o: 'y' }),
    () => frame({ ...good, f: 's1' }),
    () => frame({ ...good, extra: 1 }),
    () => frame({ v: PROTOCOL_VERSION, s: 'fz', f: 's0', c: pick(['nope', 1, null]) }),
    () => prefix(pick([0, 2 ** 31, 2 ** 32 - 1])),
    () => Buffer.concat([prefix(64), randomBytes(64)]),
    () => randomBytes(1 + Math.floor(rand() * 300)),
  ];
  for (let i = 0; i < cases; i++) {
    const listener = await listenTcp();
    // An incomplete frame from an authenticated peer is a slow peer: the recv timeout (ERR_PEER_TIMEOUT) ends it.
    const s1p = connectTcp({ self: 's1', session: 'fz', parties: ['s0', 's1'], listener, addresses: {}, connectTimeoutMs: 5000, recvTimeoutMs: 1000 });
    const s0 = await connectTcp({ self: 's0', session: 'fz', parties: ['s0', 's1'], addresses: { s1: listener.address } });
    const s1 = await s1p;
    s0.send('s1', 'x', new Uint8Array([1]));
    await s1.recv('s0', 'x');
    // The mutated bytes go straight onto s0's authenticated socket (the link's channel, reached past `private`).
    const raw = (s0 as unknown as { channels: Map<PartyId, { socket: net.Socket }> }).channels.get('s1')!.socket;
    raw.write(pick(mutations)());
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([
      s1.recv('s0', 'x').then(
        () => 'accepted',
        (e: unknown) => (e as { code?: string }).code ?? 'unnamed',
      ),
      new Promise<string>((r) => (timer = setTimeout(() => r('hang'), 10_000))),
    ]);
    clearTimeout(timer);
    if (code === 'hang') hangs++;
    codes[code] = (codes[code] ?? 0) + 1;
    await Promise.allSettled([s0.close(), s1.close()]);
    raw.destroy();
  }
  return { cases, hangs, codes };
}

export async function runFuzz(opts: { cases: number; linkCases: number; seed: number; log?: (line: string) => void }): Promise<FuzzReport> {
  const log = opts.log ?? (() => undefined);
  const rng = new Xoshiro128ss(opts.seed);
  const rand: Rand = () => rng.nextDouble();
  const dir = mkdtempSync(join(tmpdir(), 'secp-fuzz-'));
  const procs: Proc[] = [];
  try {
    const model = join(dir, 'tiny-bert');
    writeTinyModel(model, { arch: 'bert', seed: 2, layers: 1, hidden: 16, heads: 2 });
    const args = [
      '--mpc', '--model', model, '--train', join(FIXTURES, 'sentiment.jsonl'), '--shots', '4', '--dev-shots', '0',
      '--seq-len', '20', '--prompt-length', '2', '--dim', '6', '--popsize', '4', '--budget', '4', '--attention', 'rfa',
      '--rfa-features', '8', '--progress', 'none', '--timeout-sec', '60',
    ]; // prettier-ignore
    const values = parseCommand(TUNE_COMMAND, args).values;
    const prep = prepare(values, () => undefined);
    const { job, file } = await writeLocalJob(prep, {
      attention: 'rfa',
      rfa: { features: values['rfa-features'] as number, seed: values['rfa-seed'] as number, tau: values['rfa-tau'] as number },
      logitScale: values['logit-scale'] as number,
      timeoutSec: 60,
    });
    const roles: [string, PartyId, string[]][] = [
      ['s0', 's0', ['serve', '--role', 's0', '--job', file]],
      ['s1', 's1', ['serve', '--role', 's1', '--job', file]],
      ['dealer', 'dealer', ['serve', '--role', 'dealer', '--job', file]],
      ['model owner', 'model', ['share-model', '--model', model, '--job', file]],
    ];
    const running = roles.map(([name, party, a]) => ({ name, party, proc: start(a) }));
    procs.push(...running.map((r) => r.proc));
    const session = sessionId(job as Job, 'train');
    const addr = (p: PartyId) => job.sessions.train!.addresses[p];
    // Wait until every role listens.
    for (const r of running) {
      for (let i = 0; i < 200; i++) {
        const up = await new Promise<boolean>((res) => {
          const s = net.connect(addr(r.party).port, '127.0.0.1', () => {
            s.destroy();
            res(true);
          });
          s.on('error', () => res(false));
        });
        if (up) break;
        await new Promise((res) => setTimeout(res, 50));
      }
    }
    const rss: FuzzReport['rss'] = {};
    for (const r of running) rss[r.name] = { beforeMiB: rssMiB(r.proc.child.pid), afterMiB: null };
    const outcomes: Record<string, number> = {};
    const count = (o: string) => (outcomes[o] = (outcomes[o] ?? 0) + 1);
    const tasks: (() => Promise<string>)[] = [];
    for (let i = 0; i < opts.cases; i++) {
      const r = running[i % running.length]!;
      const c = strangerCase(rand, session, r.party);
      tasks.push(() => runCase(addr(r.party).port, c.bytes));
    }
    log(`part 1: ${opts.cases} stranger cases on ${running.length} roles, a slow drip and 50 dropped connections each`);
    const drips = running.map((r) => slowDrip(addr(r.party).port, session, r.party, 200));
    const dropped = running.map(async (r) => {
      const socks = Array.from({ length: 50 }, () => {
        const s = net.connect(addr(r.party).port, '127.0.0.1');
        s.on('error', () => undefined);
        return s;
      });
      await new Promise((res) => setTimeout(res, 100));
      for (const s of socks) s.destroy();
    });
    const results = await pool(tasks, 32);
    for (const o of results) count(o);
    for (const o of await Promise.all(drips)) count(`slow drip: ${o}`);
    await Promise.all(dropped);
    for (const r of running) rss[r.name]!.afterMiB = rssMiB(r.proc.child.pid);
    const crashes = running.filter((r) => r.proc.child.exitCode !== null || r.proc.child.signalCode !== null).length;
    const hangs = results.filter((o) => o === 'hang').length + (outcomes['slow drip: hang'] ?? 0);
    const logged = running.reduce((n, r) => n + (r.proc.stderr.match(/rejected a connection: .*\[ERR_[A-Z_]+\]/g)?.length ?? 0), 0);
    log(`part 1: crashes ${crashes}, hangs ${hangs}; now the legitimate run`);
    // The legitimate run: the data owner joins; every role must finish its sessions and exit 0.
    const data = start(['tune', ...args, '--job', file]);
    procs.push(data);
    const dataCode = await data.exit;
    const roleCodes: Record<string, number | null> = {};
    for (const r of running) {
      let timer: NodeJS.Timeout | undefined;
      roleCodes[r.name] = await Promise.race([r.proc.exit, new Promise<null>((res) => (timer = setTimeout(() => res(null), 30_000)))]);
      clearTimeout(timer);
    }
    if (dataCode !== 0) log(`data owner failed: ${data.stderr.slice(-2000)}`);
    for (const r of running) if (roleCodes[r.name] !== 0) log(`${r.name} failed: ${r.proc.stderr.slice(-2000)}`);
    log(`part 2: ${opts.linkCases} mutated messages from an authenticated peer`);
    const link = await fuzzLink(rand, opts.linkCases);
    return {
      seed: opts.seed,
      cases: opts.cases + running.length * 51 + opts.linkCases,
      crashes,
      hangs: hangs + link.hangs,
      outcomes,
      rss,
      logged,
      legitimate: { dataOwner: dataCode, roles: roleCodes },
      link,
    };
  } finally {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const arg = (name: string, dflt: number): number => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : dflt;
  };
  const report = await runFuzz({ cases: arg('cases', 400), linkCases: arg('link-cases', 100), seed: arg('seed', 14), log: (l) => console.error(l) });
  const growth = Object.entries(report.rss).map(([k, v]) => `${k} ${v.beforeMiB?.toFixed(0) ?? '?'} -> ${v.afterMiB?.toFixed(0) ?? '?'} MiB`);
  console.log(`fuzz: seed ${report.seed}, cases ${report.cases}, crashes ${report.crashes}, hangs ${report.hangs}`);
  console.log(`RSS: ${growth.join('; ')}`);
  console.log(`outcomes: ${JSON.stringify(report.outcomes)}`);
  console.log(`rejected connections logged by the roles: ${report.logged}`);
  console.log(`authenticated-peer cases: ${JSON.stringify(report.link.codes)}`);
  console.log(`legitimate run afterwards: data owner exit ${report.legitimate.dataOwner}, roles ${JSON.stringify(report.legitimate.roles)}`);
  const ok = report.crashes === 0 && report.hangs === 0 && report.legitimate.dataOwner === 0 && Object.values(report.legitimate.roles).every((c) => c === 0) && !('accepted' in report.link.codes);
  process.exitCode = ok ? 0 : 1;
}
