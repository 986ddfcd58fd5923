/**
 * The MPC Evaluator: every candidate × example of a split in ONE batched 2-party forward (ts/model/mpc.ts),
 * logits revealed to the data owner only. One MPC session per split (train, dev, test): each session shares
 * the model once (fixed-weight masks opened once) and its batch once, then serves a forward per call.
 *
 * Two ways to run the other roles:
 * - 'local': S0, S1, the dealer and the model owner in this process over the in-process network (tests,
 *   quick runs);
 * - a `Job` over TCP: every role is its own process (`secp-tune serve`, `secp-tune share-model`), possibly on
 *   other hosts; this process is the data owner. The job (model configuration, shapes, addresses) is public
 *   and its hash names the session, so parties started with different jobs never pair up.
 */
import { createHash } from 'node:crypto';
import { SecpError } from '../../bindings/errors.js';
import { loadBackend, type BackendName } from '../../bindings/index.js';
import type { LoadedModel } from '../model/config.js';
import { createLocalSession, DataOwner, ModelOwner, runServer, type MpcExample, type MpcSpec } from '../model/mpc.js';
import { PlainEncoder, type RfaOptions } from '../model/plain.js';
import { connectTcp, listenTcp, type TcpAddress, type TcpTlsOptions } from '../net/tcp.js';
import type { Link, PartyId } from '../net/types.js';
import type { Role } from '../mpc/party.js';
import { FRAC_BITS, Ring } from '../ring/tensor.js';
import type { Evaluator, EvaluatorMeter, Split } from './evaluator.js';
import { resolveHead, validateBatches, weightsHash, type HeadSpec } from './plain-evaluator.js';
import type { EncodedBatch, ResolvedTask } from './task.js';

export const MPC_PARTIES: readonly PartyId[] = ['s0', 's1', 'dealer', 'data', 'model'];

/** Everything every role must agree on for one run; all of it is public. */
export interface Job {
  /** Per split: the public MPC spec and the TCP address of every party for that split's session. */
  sessions: Partial<Record<Split, { spec: MpcSpec; addresses: Record<PartyId, TcpAddress> }>>;
  fracBits: number;
  /** Pooled head: logits = logitScale × cosine. */
  logitScale: number;
  /** Seconds a party waits for a message before giving up (ERR_PEER_TIMEOUT). */
  timeoutSec: number;
  /** Shared secret (≥ 16 bytes) authenticating every connection; required unless `insecure` is true. */
  secret?: string;
  /** True: run without a secret, so anyone who can reach a port can take a party's place (warned). */
  insecure?: boolean;
  /** True: every connection runs over TLS; each process brings its own key and certificate (`JoinOptions.tls`). */
  tls?: boolean;
  /** Pooled head: the public label texts the model owner embeds. */
  labelTexts?: string[];
}

/** The session name of a split: a hash of the job, so mismatched jobs fail at the handshake. */
export function sessionId(job: Job, split: Split): string {
  const { secret: _secret, ...pub } = job;
  return `${split}-${createHash('sha256').update(JSON.stringify(pub)).digest('hex').slice(0, 16)}`;
}

/** What one process brings to the sessions of a job besides the job itself. */
export interface JoinOptions {
  /** This process's TLS key and certificate (and the CA to verify peers); required when the job says `tls`. */
  tls?: TcpTlsOptions;
  /** Where rejected incoming connections are reported (one line each). */
  log?: (line: string) => void;
  /** Aborting it stops a set-up in progress. */
  signal?: AbortSignal;
}

/** Connects `self` to the session of `split`: listens on its own address, dials the others. */
export async function joinSession(job: Job, split: Split, self: PartyId, join: JoinOptions = {}): Promise<Link> {
  const s = job.sessions[split];
  if (!s) throw new SecpError('ERR_INVALID_ARGUMENT', `the job has no ${split} session`);
  if (job.tls === true && join.tls === undefined) throw new SecpError('ERR_INVALID_ARGUMENT', 'the job requires TLS ("tls": true): give this process its key and certificate (--tls-key, --tls-cert)');
  if (job.tls !== true && join.tls !== undefined) throw new SecpError('ERR_INVALID_ARGUMENT', 'TLS key and certificate given but the job does not use TLS: add "tls": true to the job file of every party');
  const listener = await listenTcp({ host: s.addresses[self].host, port: s.addresses[self].port, ...(join.tls ? { tls: join.tls } : {}) });
  try {
    return await connectTcp({
      self,
      session: sessionId(job, split),
      parties: MPC_PARTIES,
      listener,
      addresses: s.addresses,
      recvTimeoutMs: job.timeoutSec * 1000,
      connectTimeoutMs: 60_000,
      ...(job.secret ? { secret: job.secret } : {}),
      ...(join.tls ? { tls: join.tls } : {}),
      ...(join.signal ? { signal: join.signal } : {}),
      onConnectionError: (e) => join.log?.(`${split} session: rejected a connection: ${e.message} [${e.code}]`),
    });
  } finally {
    await listener.close();
  }
}

/** The MPC spec of a batch: shapes, head and attention (all public). */
export function specFor(model: Pick<LoadedModel, 'config'>, head: HeadSpec, batch: EncodedBatch, attention: 'rfa' | 'softmax', rfa: RfaOptions): MpcSpec {
  return {
    config: model.config,
    attention,
    ...(attention === 'rfa' ? { rfa } : {}),
    head: head.kind === 'mlm' ? { kind: 'mlm', labelIds: head.labelIds } : { kind: 'pooled', labels: head.labelEmbeddings.length / model.config.hidden, metric: 'cosine' },
    batch: { examples: batch.size, length: batch.seqLen, promptLength: batch.promptLength, promptStart: batch.promptStart },
  };
}

function examplesOf(batch: EncodedBatch): MpcExample[] {
  const n = batch.seqLen;
  return Array.from({ length: batch.size }, (_, b) => ({
    ids: batch.ids.subarray(b * n, (b + 1) * n),
    typeIds: batch.typeIds.subarray(b * n, (b + 1) * n),
    attentionMask: batch.attentionMask.subarray(b * n, (b + 1) * n),
    ...(batch.maskPos[b]! >= 0 ? { maskPos: batch.maskPos[b]! } : {}),
  }));
}

export interface MpcEvaluatorOptions {
  /** The model: in 'local' mode this process also plays the model owner; with a job only config, tokenizer and
   * (pooled kind) the public label embeddings are used. */
  model: LoadedModel;
  task: ResolvedTask;
  batches: { train: EncodedBatch; dev?: EncodedBatch; test?: EncodedBatch };
  attention?: 'rfa' | 'softmax';
  rfa?: RfaOptions;
  logitScale?: number;
  fracBits?: number;
  backend?: BackendName;
  /** Absent: all roles in this process. Present: the other roles are processes reached over TCP. */
  job?: Job;
  /**
   * The run's nonce (32 bytes, public; default random): pass the first run's again when resuming, so that a
   * dealer with a persistent key (`dealerKey` here in local mode, `serve --key-file` over TCP) replays the
   * randomness and the resumed run ends bit for bit like an uninterrupted one.
   */
  nonce?: Uint8Array;
  /** Local mode: the in-process dealer's persistent key (32 secret bytes). */
  dealerKey?: Uint8Array;
  /** With a job: TLS material and the log for rejected connections. */
  join?: JoinOptions;
}

/** The nonce of one split's session: every split has its own randomness. */
function splitNonce(nonce: Uint8Array | undefined, split: Split): Uint8Array | undefined {
  return nonce && new Uint8Array(createHash('sha256').update(nonce).update(split).digest());
}

interface SplitSession {
  data: DataOwner;
  links: Link[];
  done?: Promise<void>;
  /** Over TCP: the servers' last reported traffic (bytes sent by S0 and S1, S0's rounds). */
  remote?: { bytes: number; rounds: number };
}

export class MpcEvaluator implements Evaluator {
  readonly promptLength: number;
  readonly hidden: number;
  readonly numLabels: number;
  private constructor(
    private readonly sessions: Partial<Record<Split, SplitSession>>,
    private readonly batches: Partial<Record<Split, EncodedBatch>>,
    private readonly logitScale: number | null,
    private readonly description: Record<string, unknown>,
    hidden: number,
    numLabels: number,
  ) {
    this.promptLength = batches.train!.promptLength;
    this.hidden = hidden;
    this.numLabels = numLabels;
  }

  static async create(opts: MpcEvaluatorOptions): Promise<MpcEvaluator> {
    const { model, task, batches } = opts;
    validateBatches(model, task, batches);
    const attention = opts.attention ?? 'rfa';
    const rfa: RfaOptions = { ...opts.rfa };
    const logitScale = opts.logitScale ?? opts.job?.logitScale ?? 20;
    const ring = new Ring({ fracBits: opts.fracBits ?? opts.job?.fracBits ?? FRAC_BITS, ...(opts.backend ? { backend: loadBackend({ backend: opts.backend }) } : {}) });
    const sessions: Partial<Record<Split, SplitSession>> = {};
    let head: HeadSpec | undefined = opts.job ? undefined : resolveHead(model, new PlainEncoder(model, { attention, rfa }), task, logitScale);
    try {
      for (const split of ['train', 'dev', 'test'] as const) {
        const batch = batches[split];
        if (!batch) continue;
        if (opts.job) {
          const js = opts.job.sessions[split];
          if (!js) throw new SecpError('ERR_INVALID_ARGUMENT', `the job has no ${split} session`);
          const link = await joinSession(opts.job, split, 'data', opts.join);
          const nonce = splitNonce(opts.nonce, split);
          sessions[split] = { data: new DataOwner(link, ring, js.spec, nonce ? { nonce } : {}), links: [link], remote: { bytes: 0, rounds: 0 } };
          // The head's public part comes from the job (label ids) or from the model owner (label embeddings,
          // sent on every split's session; all splits use the same).
          const labels = js.spec.head.kind === 'pooled' ? new Float64Array((await link.recv('model', 'head.labels')).slice().buffer) : undefined;
          head ??= js.spec.head.kind === 'mlm'
            ? { kind: 'mlm', labelIds: [...js.spec.head.labelIds] }
            : { kind: 'pooled', labelEmbeddings: labels!, logitScale };
        } else {
          const spec = specFor(model, head!, batch, attention, rfa);
          const nonce = splitNonce(opts.nonce, split);
          const local = createLocalSession(ring, spec, model.weights, {
            session: `local-${split}`,
            ...(nonce ? { nonce } : {}),
            ...(opts.dealerKey ? { dealerKey: opts.dealerKey } : {}),
          });
          sessions[split] = { data: local.data, links: [...local.links.values()], done: local.done };
        }
        sessions[split]!.data.shareBatch(examplesOf(batch), head!.kind === 'pooled' ? head!.labelEmbeddings : undefined);
      }
    } catch (err) {
      for (const s of Object.values(sessions)) for (const l of s.links) l.abort(err as Error);
      throw err;
    }
    if (!head) throw new SecpError('ERR_INVALID_ARGUMENT', 'no split to evaluate');
    const numLabels = head.kind === 'mlm' ? head.labelIds.length : head.labelEmbeddings.length / model.config.hidden;
    const description = {
      evaluator: 'mpc',
      model: { config: model.config, ...(opts.job ? {} : { weightsSha256: weightsHash(model) }) },
      task: { kind: task.kind, labels: task.labels, words: task.words, labelTexts: task.labelTexts },
      attention,
      rfa: attention === 'rfa' ? rfa : null,
      promptMode: 'add',
      fracBits: ring.fracBits,
      ...(task.kind === 'pooled' ? { logitScale } : {}),
    };
    return new MpcEvaluator(sessions, { ...batches }, head.kind === 'pooled' ? logitScale : null, description, model.config.hidden, numLabels);
  }

  batchSize(split: Split): number {
    return this.batches[split]?.size ?? 0;
  }

  describe(): Record<string, unknown> {
    return this.description;
  }

  async evaluate(prompts: readonly Float64Array[], split: Split): Promise<Float64Array> {
    const s = this.sessions[split];
    if (!s) throw new SecpError('ERR_INVALID_ARGUMENT', `this evaluator has no ${split} split`);
    const perCandidate = await s.data.forward(prompts);
    if (s.remote) {
      const link = s.links[0]!;
      const [m0, m1] = await Promise.all((['s0', 's1'] as const).map(async (from) => new Float64Array((await link.recv(from, 'meter')).slice().buffer)));
      s.remote = { bytes: m0![0]! + m1![0]!, rounds: m0![1]! };
    }
    const out = new Float64Array(perCandidate.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of perCandidate) {
      out.set(c, at);
      at += c.length;
    }
    if (this.logitScale !== null) for (let i = 0; i < out.length; i++) out[i]! *= this.logitScale;
    return out;
  }

  /**
   * Bytes sent by all parties and the rounds between the servers: counted on every link in this process, or,
   * over TCP, the data owner's own traffic plus what the servers report after each forward (the dealer's
   * traffic to S1 is not included there).
   */
  meter(): EvaluatorMeter {
    let bytes = 0;
    let rounds = 0;
    for (const s of Object.values(this.sessions)) {
      if (s.remote) {
        bytes += s.remote.bytes;
        rounds += s.remote.rounds;
      }
      for (const l of s.links) {
        const t = l.meter.snapshot().total;
        bytes += t.bytesSent;
        if (l.self === 's0') rounds += t.rounds;
      }
    }
    return { bytes, rounds };
  }

  async close(): Promise<void> {
    for (const s of Object.values(this.sessions)) s.data.close();
    await Promise.all(Object.values(this.sessions).map((s) => s.done ?? Promise.resolve()));
    for (const s of Object.values(this.sessions)) for (const l of s.links) if (l.self === 'data') await l.close();
  }
}

/**
 * After every output a server reveals to the data owner, it also tells it its cumulative traffic (bytes sent,
 * rounds): public counts, so that a data owner in another process can report bytes and rounds per generation.
 */
function reportTraffic(link: Link): void {
  const send = link.send.bind(link);
  link.send = (to, op, body) => {
    send(to, op, body);
    if (to === 'data' && op === 'logits') {
      const t = link.meter.snapshot().total;
      send('data', 'meter', new Uint8Array(Float64Array.of(t.bytesSent, t.rounds).buffer));
    }
  };
}

/**
 * A role process of a job (`secp-tune serve` / `share-model`): runs its part of every split's session. The
 * first failure in any split ends the others at once (set-ups stop, sessions abort), so a failed role exits
 * instead of lingering until its peers' deadlines.
 */
export async function runRole(
  job: Job,
  role: Role | 'model',
  model?: LoadedModel,
  opts: { backend?: BackendName; task?: ResolvedTask; dealerKey?: Uint8Array; join?: JoinOptions } = {},
): Promise<void> {
  const ring = new Ring({ fracBits: job.fracBits, ...(opts.backend ? { backend: loadBackend({ backend: opts.backend }) } : {}) });
  const splits = (['train', 'dev', 'test'] as const).filter((s) => job.sessions[s]);
  const stop = new AbortController();
  const links = new Set<Link>();
  let first: unknown;
  const results = await Promise.allSettled(splits.map((split) => runSplit(split).catch((err: unknown) => {
    if (first === undefined) {
      first = err;
      stop.abort(err);
      for (const l of links) l.abort(err instanceof Error ? err : new Error(String(err)));
    }
    throw err;
  })));
  if (results.some((r) => r.status === 'rejected')) throw first;

  async function runSplit(split: Split): Promise<void> {
    const { spec } = job.sessions[split]!;
    const link = await joinSession(job, split, role, { ...opts.join, signal: stop.signal });
    links.add(link);
    if (stop.signal.aborted) link.abort(new SecpError('ERR_ABORTED', `${role}: another session of the job failed`));
    if (role === 'model') {
      if (!model) throw new SecpError('ERR_INVALID_ARGUMENT', 'the model owner needs --model');
      if (spec.head.kind === 'pooled') {
        // Public label texts, embedded by the model owner in the clear (the only model output D gets unmasked).
        if (!opts.task) throw new SecpError('ERR_INVALID_ARGUMENT', 'the pooled head needs the task (label texts)');
        const h = resolveHead(model, new PlainEncoder(model, { attention: spec.attention ?? 'rfa', rfa: spec.rfa ?? {} }), opts.task, job.logitScale);
        if (h.kind === 'pooled') link.send('data', 'head.labels', new Uint8Array(h.labelEmbeddings.buffer));
      }
      new ModelOwner(link, ring, spec).shareWeights(model.weights);
      await link.close();
      return;
    }
    if (role !== 'dealer') reportTraffic(link);
    await runServer(role, link, ring, spec, role === 'dealer' && opts.dealerKey ? { dealerKey: opts.dealerKey } : {});
    await link.close();
  }
}
