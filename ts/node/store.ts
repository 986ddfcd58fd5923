/**
 * Where the node keeps jobs: their records, their event logs, the queue that hands them to sessions, and cancel
 * requests. Two implementations of one interface:
 *
 * - `RedisStore` (the default): the queue is BullMQ on Redis, so several nodes share it; a job's session holds a
 *   BullMQ lock that it renews, and when its node dies the lock expires, BullMQ's stalled-job check puts the job
 *   back and another node takes it (and resumes the job's checkpoint). Records are Redis strings, event logs Redis
 *   streams (any node can replay and follow any job's events), cancel requests a flag plus a pub/sub message to
 *   the node running the job.
 * - `MemoryStore` (`--queue memory`, an explicit fallback): the same in this process only; nothing survives it.
 */
import { EventEmitter, on } from 'node:events';
import { Queue, Worker, type Job as BullJob } from 'bullmq';
import { Redis } from 'ioredis';
import type { JobRequest } from './spec.js';
import type { ResultSummary } from './session.js';

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export const TERMINAL: ReadonlySet<JobStatus> = new Set(['succeeded', 'failed', 'cancelled']);

export interface JobProgress {
  generation: number;
  totalGenerations: number | null;
  forwardCalls: number;
  budget: number;
  bestLoss: number;
  trainAccuracy: number;
  devMetric: number | null;
  etaMs: number | null;
  bytes: number | null;
  rounds: number | null;
}

export interface JobRecord {
  id: string;
  object: 'tuning.job';
  name: string | null;
  status: JobStatus;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** The node running (or that last ran) the job. */
  node: string | null;
  /** Sessions started for the job: 2 or more after a node died and another resumed it. */
  attempts: number;
  request: JobRequest;
  progress: JobProgress | null;
  result: ResultSummary | null;
  error: { code: string; message: string } | null;
}

/** One entry of a job's event log: `id` orders them (and is the SSE event id). */
export interface LoggedEvent {
  id: string;
  type: string;
  data: Record<string, unknown>;
}

export interface WorkOptions {
  /** Sessions at once on this node. */
  concurrency: number;
  /** Runs one job to its end; a throw marks it failed. */
  handler: (id: string) => Promise<void>;
  /** The queue gave up on a job (e.g. its sessions' nodes died too often). */
  onGiveUp: (id: string, reason: string) => Promise<void>;
}

export interface JobStore {
  readonly kind: 'redis' | 'memory';
  /** Saves a new job's record and queues it. */
  create(record: JobRecord): Promise<void>;
  get(id: string): Promise<JobRecord | null>;
  /** Newest first. */
  list(limit: number): Promise<JobRecord[]>;
  put(record: JobRecord): Promise<void>;
  append(id: string, type: string, data: Record<string, unknown>): Promise<void>;
  /** The job's events after `after` (null: from the start), then new ones as they come, until `signal` aborts. */
  events(id: string, after: string | null, signal: AbortSignal): AsyncGenerator<LoggedEvent>;
  /** Takes a queued job off the queue; false when a session already holds it. */
  dequeue(id: string): Promise<boolean>;
  /** Flags the job and tells the node running it. */
  requestCancel(id: string): Promise<void>;
  /** Whether a cancel was requested (written only by requestCancel, so no record update can lose it). */
  cancelRequested(id: string): Promise<boolean>;
  /** Calls `listener` on this node for every cancel request. */
  onCancel(listener: (id: string) => void): void;
  /** Starts taking jobs from the queue. */
  work(options: WorkOptions): void;
  /** Stops taking jobs and closes connections; running sessions are left to the caller. */
  close(): Promise<void>;
}

const QUEUE = 'secp-tune';
const K = {
  job: (id: string) => `secp-tune:job:${id}`,
  events: (id: string) => `secp-tune:job:${id}:events`,
  cancelFlag: (id: string) => `secp-tune:job:${id}:cancel`,
  jobs: 'secp-tune:jobs',
  cancel: 'secp-tune:cancel',
};

export interface RedisStoreOptions {
  url: string;
  /** How long a session's lock lasts without renewal: a dead node's job is taken over after about this long. */
  lockMs: number;
}

export class RedisStore implements JobStore {
  readonly kind = 'redis';
  private readonly redis: Redis;
  private sub!: Redis;
  private queue!: Queue;
  private worker: Worker | null = null;
  /** Every connection this store opened (BullMQ does not close connections it was handed). */
  private readonly connections = new Set<Redis>();
  private readonly cancels = new EventEmitter();

  private constructor(private readonly options: RedisStoreOptions) {
    // BullMQ's workers need commands that wait for Redis to come back rather than fail.
    // Connected by connect(), which fails at once when Redis is not there (later drops are retried).
    this.redis = this.track(new Redis(options.url, { maxRetriesPerRequest: null, lazyConnect: true }));
  }

  private track(r: Redis): Redis {
    // ioredis reconnects by itself; its errors are reported by the commands that fail.
    r.on('error', () => undefined);
    this.connections.add(r);
    r.once('end', () => this.connections.delete(r));
    return r;
  }

  private connection(): Redis {
    return this.track(this.redis.duplicate({ lazyConnect: false }));
  }

  static async connect(options: RedisStoreOptions): Promise<RedisStore> {
    const s = new RedisStore(options);
    try {
      await s.redis.connect();
    } catch (e) {
      s.redis.disconnect();
      throw e;
    }
    s.sub = s.connection();
    s.queue = new Queue(QUEUE, { connection: s.connection() });
    s.queue.on('error', () => undefined);
    await s.sub.subscribe(K.cancel);
    s.sub.on('message', (_channel: string, id: string) => s.cancels.emit('cancel', id));
    return s;
  }

  async create(record: JobRecord): Promise<void> {
    await this.redis.multi().set(K.job(record.id), JSON.stringify(record)).zadd(K.jobs, Date.parse(record.createdAt), record.id).exec();
    await this.queue.add('tune', { id: record.id }, { jobId: record.id, removeOnComplete: true, removeOnFail: true });
  }

  async get(id: string): Promise<JobRecord | null> {
    const s = await this.redis.get(K.job(id));
    return s === null ? null : (JSON.parse(s) as JobRecord);
  }

  async list(limit: number): Promise<JobRecord[]> {
    const ids = await this.redis.zrevrange(K.jobs, 0, limit - 1);
    if (ids.length === 0) return [];
    const recs = await this.redis.mget(ids.map(K.job));
    return recs.filter((s): s is string => s !== null).map((s) => JSON.parse(s) as JobRecord);
  }

  async put(record: JobRecord): Promise<void> {
    await this.redis.set(K.job(record.id), JSON.stringify(record));
  }

  async append(id: string, type: string, data: Record<string, unknown>): Promise<void> {
    await this.redis.xadd(K.events(id), '*', 't', type, 'd', JSON.stringify(data));
  }

  async *events(id: string, after: string | null, signal: AbortSignal): AsyncGenerator<LoggedEvent> {
    // A blocking read holds its connection: one per reader, closed when the reader stops.
    const r = this.connection();
    const stop = () => r.disconnect();
    signal.addEventListener('abort', stop, { once: true });
    let last = after ?? '0';
    try {
      while (!signal.aborted) {
        const res = (await r.xread('BLOCK', 1000, 'STREAMS', K.events(id), last).catch((e: unknown) => {
          if (signal.aborted) return null;
          throw e;
        })) as [string, [string, string[]][]][] | null;
        for (const [entryId, fields] of res?.[0]?.[1] ?? []) {
          last = entryId;
          yield { id: entryId, type: fields[1]!, data: JSON.parse(fields[3]!) as Record<string, unknown> };
        }
      }
    } finally {
      signal.removeEventListener('abort', stop);
      r.disconnect();
    }
  }

  async dequeue(id: string): Promise<boolean> {
    const job = await this.queue.getJob(id);
    if (job === undefined) return false;
    try {
      await job.remove();
      return true;
    } catch {
      return false; // locked by a session
    }
  }

  async requestCancel(id: string): Promise<void> {
    await this.redis.set(K.cancelFlag(id), '1');
    await this.redis.publish(K.cancel, id);
  }

  async cancelRequested(id: string): Promise<boolean> {
    return (await this.redis.exists(K.cancelFlag(id))) === 1;
  }

  onCancel(listener: (id: string) => void): void {
    this.cancels.on('cancel', listener);
  }

  work(o: WorkOptions): void {
    const lock = this.options.lockMs;
    this.worker = new Worker(QUEUE, async (job: BullJob<{ id: string }>) => o.handler(job.data.id), {
      connection: this.connection(),
      concurrency: o.concurrency,
      lockDuration: lock,
      stalledInterval: Math.max(500, Math.floor(lock / 2)),
      // A job whose node died is put back this many times; after that it fails (it may be what kills nodes).
      maxStalledCount: 3,
    });
    this.worker.on('failed', (job: BullJob<{ id: string }> | undefined, err: Error) => {
      if (job !== undefined) void o.onGiveUp(job.data.id, err.message);
    });
    // Errors of the worker's own connection are retried by it; keep them from crashing the node.
    this.worker.on('error', () => undefined);
  }

  async close(): Promise<void> {
    await this.worker?.close(true).catch(() => undefined);
    await this.queue.close().catch(() => undefined);
    for (const r of this.connections) r.disconnect();
  }
}

export class MemoryStore implements JobStore {
  readonly kind = 'memory';
  private readonly records = new Map<string, JobRecord>();
  private readonly logs = new Map<string, LoggedEvent[]>();
  private readonly waiting: string[] = [];
  private readonly cancelled = new Set<string>();
  private readonly bus = new EventEmitter();
  private work_: WorkOptions | null = null;
  private active = 0;
  private closed = false;

  constructor() {
    this.bus.setMaxListeners(0);
  }

  async create(record: JobRecord): Promise<void> {
    this.records.set(record.id, structuredClone(record));
    this.waiting.push(record.id);
    this.pump();
  }

  async get(id: string): Promise<JobRecord | null> {
    const r = this.records.get(id);
    return r === undefined ? null : structuredClone(r);
  }

  async list(limit: number): Promise<JobRecord[]> {
    return [...this.records.values()].reverse().slice(0, limit).map((r) => structuredClone(r));
  }

  async put(record: JobRecord): Promise<void> {
    this.records.set(record.id, structuredClone(record));
  }

  async append(id: string, type: string, data: Record<string, unknown>): Promise<void> {
    const log = this.logs.get(id) ?? [];
    this.logs.set(id, log);
    log.push({ id: String(log.length + 1), type, data });
    this.bus.emit(`event:${id}`);
  }

  async *events(id: string, after: string | null, signal: AbortSignal): AsyncGenerator<LoggedEvent> {
    let next = after === null ? 0 : Math.max(0, Number.parseInt(after, 10) || 0);
    const wake = on(this.bus, `event:${id}`, { signal });
    try {
      while (!signal.aborted) {
        const log = this.logs.get(id) ?? [];
        while (next < log.length) yield log[next++]!;
        await wake.next();
      }
    } catch (e) {
      if (!signal.aborted) throw e;
    } finally {
      await wake.return?.();
    }
  }

  async dequeue(id: string): Promise<boolean> {
    const i = this.waiting.indexOf(id);
    if (i < 0) return false;
    this.waiting.splice(i, 1);
    return true;
  }

  async requestCancel(id: string): Promise<void> {
    this.cancelled.add(id);
    this.bus.emit('cancel', id);
  }

  async cancelRequested(id: string): Promise<boolean> {
    return this.cancelled.has(id);
  }

  onCancel(listener: (id: string) => void): void {
    this.bus.on('cancel', listener);
  }

  work(options: WorkOptions): void {
    this.work_ = options;
    this.pump();
  }

  private pump(): void {
    const w = this.work_;
    while (w !== null && !this.closed && this.active < w.concurrency && this.waiting.length > 0) {
      const id = this.waiting.shift()!;
      this.active++;
      void w
        .handler(id)
        .catch(() => undefined)
        .finally(() => {
          this.active--;
          this.pump();
        });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
