/**
 * The role processes of an MPC run and the demo that starts them: `secp-tune serve --role s0|s1|dealer --job
 * FILE`, `secp-tune share-model --model DIR --job FILE`, and `tune --mpc --processes`, which writes a job for
 * loopback addresses and starts the four other roles as child processes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SecpError } from '../../bindings/errors.js';
import { loadModel } from '../model/config.js';
import { PlainEncoder, type RfaOptions } from '../model/plain.js';
import type { PartyId } from '../net/types.js';
import { FRAC_BITS } from '../ring/tensor.js';
import type { TcpTlsOptions } from '../net/tcp.js';
import { MPC_PARTIES, runRole, specFor, type Job, type JoinOptions } from '../tuning/mpc-evaluator.js';
import { resolveHead } from '../tuning/plain-evaluator.js';
import type { ResolvedTask } from '../tuning/task.js';
import { UsageError, parseCommand, type CommandSpec, type OptSpec, type Parsed } from './options.js';
import type { Prepared } from './tune.js';

/** The TLS options of every command that joins a job's sessions (serve, share-model, tune --job). */
export const TLS_OPTIONS: readonly OptSpec[] = [
  { name: 'tls-key', kind: 'path', arg: 'FILE', group: 'Security', help: 'job with "tls": true: this process\'s TLS private key (PEM)' },
  { name: 'tls-cert', kind: 'path', arg: 'FILE', group: 'Security', help: 'job with "tls": true: this process\'s TLS certificate (PEM)' },
  { name: 'tls-ca', kind: 'path', arg: 'FILE', group: 'Security', help: 'CA certificate(s) (PEM) that signed the peers\' certificates; with it every connection is mutual TLS', defaultText: 'the system CAs' },
  { name: 'tls-servername', kind: 'string', arg: 'NAME', group: 'Security', help: "name to verify in the peers' certificates", defaultText: 'the host dialled' },
];

const SECURITY_NOTE =
  'Security: the job file must carry a shared "secret" (at least 16 bytes; `tune --processes` writes a random one) or\n' +
  'say "insecure": true, which is warned about. With "tls": true every connection runs over TLS with the --tls-*\n' +
  'files of each process. See docs/deployment.md.';

export const SERVE_COMMAND: CommandSpec = {
  name: 'serve',
  summary: 'Run one compute party of an MPC job: server S0 or S1, or the dealer T, for every session of the job file.',
  usage: 'secp-tune serve --role s0|s1|dealer --job FILE',
  options: [
    { name: 'role', kind: 'enum', values: ['s0', 's1', 'dealer'], required: true, group: 'Session', help: 'which party this process is' },
    { name: 'job', kind: 'path', arg: 'FILE', required: true, group: 'Session', help: 'the job file (public: model configuration, shapes, addresses of every party)' },
    { name: 'key-file', kind: 'path', arg: 'FILE', group: 'Session', help: "dealer: its secret key (32 bytes as hex; created, mode 0600, if missing). With it a resumed run (same data owner nonce) replays the first run's randomness, so it ends bit for bit like an uninterrupted run" },
    ...TLS_OPTIONS,
  ],
  notes: ['Semi-honest, non-colluding S0, S1 and dealer. The dealer must not run in the same trust domain as S0 or S1.', SECURITY_NOTE],
};

/**
 * The dealer key in `file` (32 bytes as hex), created first if missing, with its folder (random, the file
 * readable by its owner only). Of two runs starting at once, one creates the key and both read that one.
 */
export function loadDealerKey(file: string): Uint8Array {
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new UsageError(`cannot create the dealer key ${file}: ${(e as Error).message}`);
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (e) {
    throw new UsageError(`cannot read the dealer key ${file}: ${(e as Error).message}`);
  }
  if (!/^[0-9a-f]{64}$/.test(text)) throw new UsageError(`${file} is not a dealer key (64 hex digits)`);
  return new Uint8Array(Buffer.from(text, 'hex'));
}

export const SHARE_MODEL_COMMAND: CommandSpec = {
  name: 'share-model',
  summary: "The model owner's step: read a model folder and send one additive share of every weight to each server, for every session of the job.",
  usage: 'secp-tune share-model --model DIR --job FILE',
  options: [
    { name: 'model', kind: 'path', arg: 'DIR', required: true, group: 'Model', help: 'HF model folder (config.json, model.safetensors, tokenizer)' },
    { name: 'job', kind: 'path', arg: 'FILE', required: true, group: 'Session', help: 'the job file' },
    ...TLS_OPTIONS,
  ],
  notes: [SECURITY_NOTE],
};

export function readJob(file: string): Job {
  let job: Job;
  try {
    job = JSON.parse(readFileSync(file, 'utf8')) as Job;
  } catch (e) {
    throw new UsageError(`cannot read the job file ${file}: ${(e as Error).message}`);
  }
  if (!job || typeof job !== 'object' || !job.sessions || typeof job.fracBits !== 'number') {
    throw new UsageError(`${file} is not a job file (needs sessions and fracBits)`);
  }
  for (const [split, s] of Object.entries(job.sessions)) {
    for (const p of MPC_PARTIES) {
      const a = s?.addresses?.[p];
      if (!a || typeof a.host !== 'string' || !Number.isInteger(a.port)) throw new UsageError(`${file}: session ${split} has no address for ${p}`);
    }
  }
  if (job.insecure !== undefined && typeof job.insecure !== 'boolean') throw new UsageError(`${file}: "insecure" must be true or false`);
  if (job.tls !== undefined && typeof job.tls !== 'boolean') throw new UsageError(`${file}: "tls" must be true or false`);
  if (job.secret === undefined) {
    if (job.insecure !== true) {
      throw new UsageError(
        `${file} has no "secret": add one of at least ${MIN_SECRET_BYTES} bytes (e.g. the output of \`openssl rand -hex 32\`) to the job ` +
          'file of every party, or set "insecure": true to run without authentication',
      );
    }
  } else if (typeof job.secret !== 'string' || Buffer.byteLength(job.secret, 'utf8') < MIN_SECRET_BYTES) {
    const got = typeof job.secret === 'string' ? `${Buffer.byteLength(job.secret, 'utf8')} bytes` : typeof job.secret;
    throw new UsageError(`${file}: "secret" must be a string of at least ${MIN_SECRET_BYTES} bytes, got ${got}`);
  }
  return job;
}

const MIN_SECRET_BYTES = 16;

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/** What `role` should be warned about before it listens: no secret, or a non-loopback address without TLS. */
export function jobWarnings(job: Job, file: string, role: PartyId): string[] {
  const out: string[] = [];
  const hosts = new Set(Object.values(job.sessions).map((s) => s!.addresses[role].host));
  const exposed = [...hosts].filter((h) => !isLoopback(h));
  if (job.secret === undefined) {
    out.push(
      `WARNING: ${file} says "insecure": true: connections are not authenticated, so anyone who can reach ` +
        `${exposed.length > 0 ? exposed.join(', ') : 'these ports'} can take the place of a party`,
    );
  }
  if (job.tls !== true && exposed.length > 0) {
    out.push(`WARNING: listening on ${exposed.join(', ')} without TLS: what travels (shares, the dealer's PRG keys) can be read on the network; set "tls": true (docs/deployment.md)`);
  }
  return out;
}

/** This process's side of a job's sessions: its TLS files, warnings and the log of rejected connections. */
export function joinOptions(job: Job, file: string, role: PartyId, values: Parsed['values'], log: (line: string) => void): JoinOptions {
  const tls = tlsOptions(values);
  if (job.tls === true && tls === undefined) throw new UsageError(`${file} says "tls": true: give this process its --tls-key and --tls-cert`);
  if (job.tls !== true && tls !== undefined) throw new UsageError(`--tls-key/--tls-cert given but ${file} does not say "tls": true`);
  for (const w of jobWarnings(job, file, role)) log(w);
  return { ...(tls ? { tls } : {}), log };
}

function tlsOptions(values: Parsed['values']): TcpTlsOptions | undefined {
  const [key, cert, ca, servername] = ['tls-key', 'tls-cert', 'tls-ca', 'tls-servername'].map((k) => values[k] as string | undefined);
  if (key === undefined && cert === undefined) {
    if (ca !== undefined || servername !== undefined) throw new UsageError('--tls-ca and --tls-servername need --tls-key and --tls-cert');
    return undefined;
  }
  if (key === undefined || cert === undefined) throw new UsageError('TLS needs both --tls-key and --tls-cert');
  const read = (f: string, what: string): Buffer => {
    try {
      return readFileSync(f);
    } catch (e) {
      throw new UsageError(`cannot read the TLS ${what} ${f}: ${(e as Error).message}`);
    }
  };
  return { key: read(key, 'key'), cert: read(cert, 'certificate'), ...(ca ? { ca: read(ca, 'CA certificate') } : {}), ...(servername ? { servername } : {}) };
}

const stderrLog = (name: string) => (line: string): void => void process.stderr.write(`secp-tune ${name}: ${line}\n`);

export async function runServe(argv: readonly string[]): Promise<number> {
  const p = parseCommand(SERVE_COMMAND, argv);
  if (p.help) return -1;
  const role = p.values['role'] as 's0' | 's1' | 'dealer';
  const keyFile = p.values['key-file'] as string | undefined;
  if (keyFile !== undefined && role !== 'dealer') throw new UsageError('serve: --key-file is the dealer\'s (--role dealer)');
  const file = p.values['job'] as string;
  const job = readJob(file);
  const join = joinOptions(job, file, role, p.values, stderrLog(`serve ${role}`));
  await runRole(job, role, undefined, { join, ...(keyFile !== undefined ? { dealerKey: loadDealerKey(keyFile) } : {}) });
  return 0;
}

export async function runShareModel(argv: readonly string[]): Promise<number> {
  const p = parseCommand(SHARE_MODEL_COMMAND, argv);
  if (p.help) return -1;
  const file = p.values['job'] as string;
  const job = readJob(file);
  const join = joinOptions(job, file, 'model', p.values, stderrLog('share-model'));
  const model = loadModel(p.values['model'] as string);
  const task = { kind: job.labelTexts ? 'pooled' : 'mlm', labelTexts: job.labelTexts } as ResolvedTask;
  await runRole(job, 'model', model, { task, join });
  return 0;
}

/**
 * A loopback port that is free now, drawn below the kernel's ephemeral range: the roles' outgoing connections take
 * ephemeral ports, so a listening port from that range (what `listen(0)` hands out) can be taken by a connection
 * before the role that owns it starts listening.
 */
async function freePort(taken: Set<number>, hi: number): Promise<number> {
  const lo = 10_000;
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = lo + randomInt(hi - lo);
    if (taken.has(port)) continue;
    const free = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (free) {
      taken.add(port);
      return port;
    }
  }
  throw new SecpError('ERR_PEER_UNREACHABLE', `no free loopback port found in ${lo}..${hi - 1}`);
}

const children: ChildProcess[] = [];
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
});

export interface LocalJobOptions {
  attention: 'rfa' | 'softmax';
  rfa: RfaOptions;
  logitScale: number;
  timeoutSec: number;
}

/** Writes a job for free loopback ports, with a fresh secret, to a new folder; returns it and the file. */
export async function writeLocalJob(prep: Prepared, o: LocalJobOptions): Promise<{ job: Job; file: string }> {
  const head = resolveHead(prep.model, new PlainEncoder(prep.model, { attention: o.attention, rfa: o.rfa }), prep.task, o.logitScale);
  // A fresh secret per job: only processes that read this file (mode 0600, in a folder of its own) can join.
  const job: Job = { sessions: {}, fracBits: FRAC_BITS, logitScale: o.logitScale, timeoutSec: o.timeoutSec, secret: randomBytes(32).toString('hex') };
  const taken = new Set<number>();
  let ephemeralLo = 32768;
  try {
    ephemeralLo = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || ephemeralLo;
  } catch {
    // not Linux: keep the usual lower bound
  }
  const portsBelow = Math.max(11_000, ephemeralLo);
  if (prep.task.kind === 'pooled') job.labelTexts = [...prep.task.labelTexts!];
  for (const split of ['train', 'dev', 'test'] as const) {
    const batch = prep.batches[split];
    if (!batch) continue;
    const addresses = {} as Record<PartyId, { host: string; port: number }>;
    for (const party of MPC_PARTIES) addresses[party] = { host: '127.0.0.1', port: await freePort(taken, portsBelow) };
    job.sessions[split] = { spec: specFor(prep.model, head, batch, o.attention, o.rfa), addresses };
  }
  const dir = mkdtempSync(join(tmpdir(), 'secp-job-'));
  const file = join(dir, 'job.json');
  writeFileSync(file, JSON.stringify(job), { mode: 0o600 });
  return { job, file };
}

/**
 * Writes a job for loopback addresses and starts S0, S1, the dealer and the model owner as child processes;
 * this process is the data owner. A child that dies makes the session fail fast (its sockets close).
 */
export async function startLocalProcesses(
  prep: Prepared,
  o: LocalJobOptions & { modelDir: string; keyFile?: string },
  log: (line: string) => void,
): Promise<Job> {
  const { job, file } = await writeLocalJob(prep, o);
  const main = fileURLToPath(new URL('./main.js', import.meta.url));
  const start = (args: string[], name: string): void => {
    const child = spawn(process.execPath, [main, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-2000); });
    child.on('exit', (code, signal) => {
      if (code !== 0) log(`${name} (pid ${child.pid}) exited with ${signal ?? `code ${code}`}${err ? `: ${err.trim().split('\n').pop()}` : ''}`);
    });
    children.push(child);
  };
  for (const role of ['s0', 's1', 'dealer'] as const) {
    start(['serve', '--role', role, '--job', file, ...(role === 'dealer' && o.keyFile ? ['--key-file', o.keyFile] : [])], role);
  }
  start(['share-model', '--model', o.modelDir, '--job', file], 'model owner');
  log(`started S0, S1, the dealer and the model owner as processes (pids ${children.map((c) => c.pid).join(', ')}); job ${file}`);
  return job;
}


/**
 * The demo's settings: sized so that the MPC run plus the plaintext test pass finish in about 10 minutes on 2
 * idle cores (docs/results.md has the measured calls-to-accuracy runs they come from): d 20 (a small search
 * space moves in few generations), dev scored at the start and the end only (each dev pass costs as much as a
 * generation), 500 test examples scored in plaintext after the private tuning (--test-plaintext).
 */
export const DEMO_SETTINGS = {
  kind: 'pooled',
  task: 'sst2',
  shots: 4,
  devShots: 16,
  seqLen: 24,
  promptLength: 4,
  dim: 20,
  popsize: 6,
  generations: 6,
  evalEvery: 6,
  testLimit: 500,
  rfaFeatures: 32,
} as const;

export const DEMO_COMMAND: CommandSpec = {
  name: 'demo',
  summary:
    'End-to-end private tuning on one machine: S0, S1, the dealer and the model owner as separate processes over\n' +
    'loopback TCP, this process as the data owner, tuning a prompt for all-MiniLM-L6-v2 (pooled kind) on\n' +
    'Rotten Tomatoes snippets under MPC. Prints the settings, progress, bytes, rounds and before/after accuracy.',
  usage: 'secp-tune demo [options]',
  options: [
    { name: 'model', kind: 'path', arg: 'DIR', default: '.cache/models/all-MiniLM-L6-v2', group: 'Demo', help: 'model folder (scripts/fetch-assets.sh puts it there)' },
    { name: 'data', kind: 'path', arg: 'DIR', default: '.cache/data/rotten_tomatoes', group: 'Demo', help: 'folder with train.jsonl and test.jsonl' },
    { name: 'out', kind: 'path', arg: 'FILE', default: 'demo-prompt.json', group: 'Demo', help: 'where the tuned prompt (best z, scores, settings) is written' },
    { name: 'checkpoint', kind: 'path', arg: 'FILE', default: 'demo-checkpoint.json', group: 'Demo', help: 'checkpoint written after every generation (replaced by a new demo run)' },
    { name: 'resume', kind: 'flag', group: 'Demo', help: 'continue the demo run saved in --checkpoint (after a failure or Ctrl-C)' },
    { name: 'generations', kind: 'int', min: 1, max: 10000, default: DEMO_SETTINGS.generations, group: 'Demo', help: 'CMA-ES generations' },
    { name: 'plaintext', kind: 'flag', group: 'Demo', help: 'run the same settings with the plaintext forward instead of MPC (no privacy; for comparison)' },
    { name: 'json', kind: 'flag', group: 'Output', help: 'print events as JSON lines on stdout' },
  ],
};

export async function runDemo(argv: readonly string[], signal: AbortSignal): Promise<number> {
  const p = parseCommand(DEMO_COMMAND, argv);
  if (p.help) return -1;
  const data = p.values['data'] as string;
  const d = DEMO_SETTINGS;
  const generations = p.values['generations'] as number;
  const mode = p.values['plaintext'] === true ? ['--plaintext'] : ['--mpc', '--processes'];
  const checkpoint = p.values['checkpoint'] as string;
  const resumeCommand = `secp-tune demo${p.values['plaintext'] === true ? ' --plaintext' : ''} --checkpoint ${checkpoint} --resume`;
  const { runTuneCommand } = await import('./tune.js');
  if (p.values['resume'] === true) {
    const args = [...mode, '--checkpoint', checkpoint, '--resume', '--out', p.values['out'] as string, ...(p.values['json'] === true ? ['--json'] : [])];
    process.stderr.write(`secp-tune demo: secp-tune tune ${args.join(' ')}\n`);
    return runTuneCommand(args, signal, resumeCommand);
  }
  const args = [
    ...mode,
    '--model', p.values['model'] as string,
    '--train', join(data, 'train.jsonl'),
    '--test', join(data, 'test.jsonl'),
    '--test-limit', String(d.testLimit),
    '--test-plaintext',
    '--kind', d.kind,
    '--task', d.task,
    '--shots', String(d.shots),
    '--dev-shots', String(d.devShots),
    '--seq-len', String(d.seqLen),
    '--prompt-length', String(d.promptLength),
    '--dim', String(d.dim),
    '--popsize', String(d.popsize),
    '--budget', String(d.popsize * generations),
    '--eval-every', String(d.evalEvery),
    '--rfa-features', String(d.rfaFeatures),
    '--out', p.values['out'] as string,
    '--checkpoint', checkpoint,
    '--overwrite',
    ...(p.values['json'] === true ? ['--json'] : []),
  ];
  process.stderr.write(`secp-tune demo: secp-tune tune ${args.join(' ')}\n`);
  return runTuneCommand(args, signal, resumeCommand);
}
