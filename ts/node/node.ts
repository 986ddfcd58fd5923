/**
 * The tuning node: an HTTP service with a job API in the shape of hosted fine-tuning APIs, a queue shared by
 * every node on the same Redis, and up to `sessions` tuning sessions at once in worker threads.
 *
 *   POST /v1/jobs                create a job (JSON body: JOB_REQUEST_SCHEMA) → 201 and its record
 *   GET  /v1/jobs                the newest jobs (?limit=)
 *   GET  /v1/jobs/:id            one job's record: status, node, progress, result summary, error
 *   GET  /v1/jobs/:id/events     server-sent events: status, start, generation (loss, accuracy, bytes, rounds,
 *                                ETA), log, done; replayed from the start (or after Last-Event-ID), then live,
 *                                ending after the job's final status
 *   POST /v1/jobs/:id/cancel     stop it (a queued job at once, a running one after its current generation)
 *   GET  /v1/jobs/:id/result     the finished job's result: best prompt z, scores, history, settings
 *   GET  /v1/node                this node: name, queue, session limit, the jobs it runs now
 *   GET  /openapi.json           the OpenAPI description (no token needed)
 *   GET  /                       the web page: the job list and one job's live progress (no token needed to load
 *                                it; it asks for the token and sends it with every API call)
 *
 * Every /v1 call needs `Authorization: Bearer TOKEN` (401 otherwise). A job's checkpoint and result live in the
 * store folder under jobs/ID/, which all nodes of a queue must share at the same path: a node killed mid-job
 * leaves its BullMQ lock to expire, another node takes the job and resumes its checkpoint, ending with the result
 * an uninterrupted run would have had.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import { Piscina } from 'piscina';
import { SecpError } from '../../bindings/errors.js';
import { writeTinyModel } from '../model/tiny.js';
import type { GenerationEvent, TuneEvent } from '../tuning/loop.js';
import { PAGE_HTML } from './page.js';
import type { SessionMessage, SessionTask } from './session.js';
import { JOB_REQUEST_SCHEMA, LIST_ITEM, NODE_DEFAULTS, RELATIVE_PATH, RequestError, TINY_MODEL, tuneValues, type JobRequest, type NodeFolders } from './spec.js';
import { MemoryStore, RedisStore, TERMINAL, type JobRecord, type JobStatus, type JobStore } from './store.js';

export interface NodeOptions {
  /** Listen address. Default 127.0.0.1. */
  host?: string;
  /** Listen port; 0 picks a free one. Default 8080. */
  port?: number;
  /** The bearer token every /v1 call must carry. */
  token: string;
  /** 'redis' (BullMQ, shared by nodes) or 'memory' (this process only). Default 'redis'. */
  queue?: 'redis' | 'memory';
  /** Default redis://127.0.0.1:6379. */
  redisUrl?: string;
  /** Lock of a running job: a dead node's job is taken over after about this long. Default 30000. */
  lockMs?: number;
  /** Tuning sessions at once on this node (worker threads). Default 2. */
  sessions?: number;
  folders: NodeFolders;
  /** This node's name in job records. Default node-PID. */
  name?: string;
  /** One line per job start and end. Default none. */
  log?: (line: string) => void;
}

const ID = '^job-[0-9a-f]{16}$';
const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: ID } } } as const;
const errorSchema = {
  type: 'object',
  properties: { statusCode: { type: 'integer' }, error: { type: 'string' }, message: { type: 'string' } },
} as const;

/** Writes the tiny model once (through a temporary folder, so a node starting alongside never reads half of it). */
function ensureTinyModel(models: string): void {
  const dir = join(models, TINY_MODEL.name);
  if (existsSync(dir)) return;
  const tmp = `${dir}.tmp-${process.pid}`;
  writeTinyModel(tmp, { ...TINY_MODEL.options });
  try {
    renameSync(tmp, dir);
  } catch {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Field path for a validation message: body fields as `settings.popsize`, others as `params.id`. */
function fieldOf(dataVar: string, instancePath: string, extra?: string): string {
  const parts = instancePath.split('/').filter((p) => p !== '').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (extra !== undefined) parts.push(extra);
  if (dataVar !== 'body') parts.unshift(dataVar);
  return parts.length === 0 ? dataVar : parts.join('.');
}

interface AjvError {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

function validationMessage(errors: readonly AjvError[], dataVar: string): string {
  const e = errors[0]!;
  if (e.keyword === 'additionalProperties') return `${fieldOf(dataVar, e.instancePath, String(e.params['additionalProperty']))} is not a known field`;
  if (e.keyword === 'required') return `${fieldOf(dataVar, e.instancePath, String(e.params['missingProperty']))} is required`;
  if (e.keyword === 'enum') return `${fieldOf(dataVar, e.instancePath)} must be one of ${(e.params['allowedValues'] as unknown[]).join(', ')}`;
  if (e.keyword === 'pattern' && e.params['pattern'] === RELATIVE_PATH) {
    return `${fieldOf(dataVar, e.instancePath)} must be a relative path inside the node's folder (no '..', no leading '/')`;
  }
  if (e.keyword === 'pattern' && e.params['pattern'] === LIST_ITEM) return `${fieldOf(dataVar, e.instancePath)} must not contain a comma`;
  return `${fieldOf(dataVar, e.instancePath)} ${e.message ?? 'is invalid'}`;
}

/** Compares tokens in constant time (through their hashes, so lengths do not show). */
function tokenMatches(given: string, token: string): boolean {
  const h = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(h(given), h(token));
}

function now(): string {
  return new Date().toISOString();
}

function progressOf(e: GenerationEvent): JobRecord['progress'] {
  return {
    generation: e.generation,
    totalGenerations: Number.isFinite(e.totalGenerations) ? e.totalGenerations : null,
    forwardCalls: e.forwardCalls,
    budget: e.budget,
    bestLoss: e.loss.best,
    trainAccuracy: e.train.accuracy,
    devMetric: e.best?.dev?.metric ?? null,
    etaMs: e.etaMs,
    bytes: e.bytes ?? null,
    rounds: e.rounds ?? null,
  };
}

export class TuningNode {
  readonly name: string;
  /** Where the node listens, e.g. http://127.0.0.1:8080. */
  url = '';
  private readonly app: FastifyInstance;
  private readonly pool: Piscina;
  /** The ports of this node's running sessions, by job id. */
  private readonly running = new Map<string, MessagePort>();
  private closing = false;
  private readonly o: Required<Omit<NodeOptions, 'log' | 'name'>> & { log: (line: string) => void };

  private constructor(options: NodeOptions, private readonly store: JobStore) {
    this.name = options.name ?? `node-${process.pid}`;
    this.o = { ...NODE_DEFAULTS, ...options, log: options.log ?? (() => undefined) };
    this.pool = new Piscina({
      filename: new URL('./session.js', import.meta.url).href,
      minThreads: 0,
      maxThreads: this.o.sessions,
      idleTimeout: 60_000,
    });
    this.app = Fastify({
      bodyLimit: 64 * 1024,
      ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: true, allErrors: false } },
      schemaErrorFormatter: (errors, dataVar) => new RequestError(validationMessage(errors as unknown as AjvError[], dataVar)),
    });
  }

  /** Starts a node: connects its queue, starts listening, starts taking jobs. */
  static async start(options: NodeOptions): Promise<TuningNode> {
    const sessions = options.sessions ?? NODE_DEFAULTS.sessions;
    if (!Number.isSafeInteger(sessions) || sessions < 1 || sessions > 256) {
      throw new SecpError('ERR_INVALID_ARGUMENT', `sessions must be an integer in 1..256, got ${sessions}`);
    }
    if (typeof options.token !== 'string' || options.token.length < 16) {
      throw new SecpError('ERR_INVALID_ARGUMENT', 'the node token must have at least 16 characters');
    }
    for (const dir of [options.folders.store, options.folders.models, options.folders.data]) mkdirSync(dir, { recursive: true });
    ensureTinyModel(options.folders.models);
    const queue = options.queue ?? NODE_DEFAULTS.queue;
    let store: JobStore;
    if (queue === 'memory') store = new MemoryStore();
    else {
      const url = options.redisUrl ?? NODE_DEFAULTS.redisUrl;
      try {
        store = await RedisStore.connect({ url, lockMs: options.lockMs ?? NODE_DEFAULTS.lockMs });
      } catch (e) {
        throw new SecpError(
          'ERR_QUEUE',
          `cannot reach Redis at ${url}: ${(e as Error).message}; start redis-server, or run this node alone with --queue memory`,
        );
      }
    }
    const node = new TuningNode(options, store);
    await node.routes();
    const address = await node.app.listen({ host: node.o.host, port: node.o.port });
    node.url = address.replace('[::1]', '127.0.0.1');
    store.onCancel((id) => {
      node.running.get(id)?.postMessage('cancel');
    });
    store.work({
      concurrency: sessions,
      handler: (id) => node.runJob(id),
      onGiveUp: (id, reason) => node.giveUp(id, reason),
    });
    return node;
  }

  /** Stops listening and taking jobs; running sessions end where they are (another node resumes them). */
  async close(): Promise<void> {
    this.closing = true;
    await this.app.close();
    await this.store.close();
    await this.pool.destroy();
  }

  private async routes(): Promise<void> {
    const app = this.app;
    await app.register(swagger, {
      openapi: {
        info: { title: 'secp-tune node', version: '1', description: 'Tuning jobs: create, list, watch, cancel, fetch results.' },
        components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
        security: [{ bearer: [] }],
      },
    });
    app.setErrorHandler((err: Error & { statusCode?: number; validation?: unknown }, _req, reply) => {
      if (err instanceof RequestError) return reply.code(400).send({ statusCode: 400, error: 'Bad Request', message: err.message });
      const code = err.statusCode ?? 500;
      return reply.code(code).send({ statusCode: code, error: code < 500 ? 'Bad Request' : 'Internal Server Error', message: err.message });
    });
    app.addHook('onRequest', async (req, reply) => {
      if (!req.url.startsWith('/v1/')) return;
      const h = req.headers.authorization ?? '';
      const given = h.startsWith('Bearer ') ? h.slice(7) : '';
      if (given === '' || !tokenMatches(given, this.o.token)) {
        await reply
          .code(401)
          .header('www-authenticate', 'Bearer')
          .send({ statusCode: 401, error: 'Unauthorized', message: 'send the node token as Authorization: Bearer TOKEN' });
      }
    });
    const record = { type: 'object', additionalProperties: true } as const;
    const errors = { 400: errorSchema, 401: errorSchema, 404: errorSchema, 409: errorSchema };

    app.post('/v1/jobs', { schema: { summary: 'Create a tuning job', body: JOB_REQUEST_SCHEMA, response: { 201: record, ...errors } } }, async (req, reply) => {
      const request = req.body as JobRequest;
      tuneValues(request, this.o.folders, join(this.o.folders.store, 'check.json')); // a 400 now rather than a failed job later
      const rec: JobRecord = {
        id: `job-${randomBytes(8).toString('hex')}`,
        object: 'tuning.job',
        name: request.name ?? null,
        status: 'queued',
        createdAt: now(),
        startedAt: null,
        finishedAt: null,
        node: null,
        attempts: 0,
        request,
        progress: null,
        result: null,
        error: null,
      };
      await this.store.append(rec.id, 'status', { status: 'queued', node: null, attempts: 0 });
      await this.store.create(rec);
      return reply.code(201).send(rec);
    });

    app.get(
      '/v1/jobs',
      { schema: { summary: 'List jobs, newest first', querystring: { type: 'object', additionalProperties: false, properties: { limit: { type: 'string', pattern: '^[0-9]{1,4}$' } } } } },
      async (req) => {
        const limit = Number((req.query as { limit?: string }).limit ?? 100);
        if (limit < 1 || limit > 1000) throw new RequestError('limit must be in 1..1000');
        return { object: 'list', data: await this.store.list(limit) };
      },
    );

    app.get('/v1/jobs/:id', { schema: { summary: 'One job', params: idParams, response: { 200: record, ...errors } } }, async (req, reply) => {
      const rec = await this.store.get((req.params as { id: string }).id);
      return rec ?? this.notFound(reply, (req.params as { id: string }).id);
    });

    app.get('/v1/jobs/:id/events', { schema: { summary: "The job's events (text/event-stream)", params: idParams } }, async (req, reply) => {
      const id = (req.params as { id: string }).id;
      if ((await this.store.get(id)) === null) return this.notFound(reply, id);
      const last = req.headers['last-event-id'];
      return this.streamEvents(req, reply, id, typeof last === 'string' && last !== '' ? last : null);
    });

    app.post('/v1/jobs/:id/cancel', { schema: { summary: 'Cancel a job', params: idParams, response: { 200: record, ...errors } } }, async (req, reply) => {
      const id = (req.params as { id: string }).id;
      const rec = await this.store.get(id);
      if (rec === null) return this.notFound(reply, id);
      if (TERMINAL.has(rec.status)) return reply.code(409).send({ statusCode: 409, error: 'Conflict', message: `job ${id} is already ${rec.status}` });
      await this.store.requestCancel(id);
      if (rec.status === 'queued' && (await this.store.dequeue(id))) await this.finish(rec, 'cancelled');
      return (await this.store.get(id))!;
    });

    app.get('/v1/jobs/:id/result', { schema: { summary: "The finished job's result", params: idParams } }, async (req, reply) => {
      const id = (req.params as { id: string }).id;
      const rec = await this.store.get(id);
      if (rec === null) return this.notFound(reply, id);
      if (rec.status !== 'succeeded') {
        return reply.code(409).send({ statusCode: 409, error: 'Conflict', message: `job ${id} is ${rec.status}; its result exists once it succeeded` });
      }
      return reply.type('application/json').send(readFileSync(join(this.jobDir(id), 'result.json'), 'utf8'));
    });

    app.get('/v1/node', { schema: { summary: 'This node' } }, async () => ({
      name: this.name,
      queue: this.store.kind,
      sessions: this.o.sessions,
      running: [...this.running.keys()],
    }));

    app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
    app.get('/healthz', { schema: { hide: true } }, async () => ({ ok: true }));
    app.get('/', { schema: { hide: true } }, async (_req, reply) => reply.type('text/html; charset=utf-8').send(PAGE_HTML));
  }

  private notFound(reply: FastifyReply, id: string) {
    return reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `no job ${id}` });
  }

  private jobDir(id: string): string {
    return join(this.o.folders.store, 'jobs', id);
  }

  private async streamEvents(req: FastifyRequest, reply: FastifyReply, id: string, after: string | null): Promise<void> {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const stop = new AbortController();
    req.raw.on('close', () => stop.abort());
    const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
    try {
      for await (const e of this.store.events(id, after, stop.signal)) {
        res.write(`id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e.data)}\n\n`);
        if (e.type === 'status' && TERMINAL.has(e.data['status'] as JobStatus)) break;
      }
    } finally {
      clearInterval(ping);
      stop.abort();
      res.end();
    }
  }

  private async finish(rec: JobRecord, status: JobStatus, extra: Partial<JobRecord> = {}): Promise<void> {
    Object.assign(rec, extra, { status, finishedAt: now() });
    await this.store.put(rec);
    await this.store.append(rec.id, 'status', { status, node: rec.node, attempts: rec.attempts, ...(rec.error ? { error: rec.error } : {}) });
    this.o.log(`job ${rec.id} ${status}${rec.error ? `: ${rec.error.message}` : ''}`);
  }

  private async giveUp(id: string, reason: string): Promise<void> {
    if (this.closing) return;
    const rec = await this.store.get(id);
    if (rec !== null && !TERMINAL.has(rec.status)) await this.finish(rec, 'failed', { error: { code: 'ERR_QUEUE', message: reason } });
  }

  /** Runs one job from the queue in a session thread, recording its events and end. */
  private async runJob(id: string): Promise<void> {
    const rec = await this.store.get(id);
    if (rec === null || TERMINAL.has(rec.status)) return;
    const { port1, port2 } = new MessageChannel();
    this.running.set(id, port1);
    try {
      if (await this.store.cancelRequested(id)) {
        await this.finish(rec, 'cancelled');
        return;
      }
      Object.assign(rec, { status: 'running', node: this.name, attempts: rec.attempts + 1, startedAt: rec.startedAt ?? now() });
      await this.store.put(rec);
      await this.store.append(id, 'status', { status: 'running', node: this.name, attempts: rec.attempts });
      this.o.log(`job ${id} running (attempt ${rec.attempts})`);
      const dir = this.jobDir(id);
      mkdirSync(dir, { recursive: true });
      // Events are recorded in order, one after another; the session's last message is its end.
      let chain = Promise.resolve();
      let ended!: (m: Extract<SessionMessage, { type: 'end' }>) => void;
      const end = new Promise<Extract<SessionMessage, { type: 'end' }>>((resolve) => (ended = resolve));
      port1.on('message', (m: SessionMessage) => {
        if (m.type === 'end') ended(m);
        else chain = chain.then(() => this.record(rec, m)).catch(() => undefined);
      });
      const task: Omit<SessionTask, 'port'> = { id, request: rec.request, folders: this.o.folders, dir };
      // The pool's promise fails only when the thread itself dies; the outcome is the session's 'end'.
      const crashed = this.pool.run({ ...task, port: port2 }, { transferList: [port2] }).then(
        () => end,
        (e: Error) => ({ type: 'end' as const, error: { code: 'ERR_SESSION', message: `the session thread failed: ${e.message}` } }),
      );
      const outcome = await Promise.race([end, crashed]);
      await chain;
      if (this.closing) return; // this node is stopping: the job stays running and another node resumes it
      if ('error' in outcome) await this.finish(rec, 'failed', { error: outcome.error });
      else await this.finish(rec, outcome.summary.complete ? 'succeeded' : 'cancelled', { result: outcome.summary });
    } finally {
      this.running.delete(id);
      port1.close();
    }
  }

  private async record(rec: JobRecord, m: Exclude<SessionMessage, { type: 'end' }>): Promise<void> {
    if (this.closing) return;
    if (m.type === 'log') return this.store.append(rec.id, 'log', { line: m.line });
    const e: TuneEvent = m.event;
    if (e.type === 'start') {
      const { type: _t, options: _o, ...rest } = e;
      await this.store.append(rec.id, 'start', rest as unknown as Record<string, unknown>);
    } else if (e.type === 'generation') {
      rec.progress = progressOf(e);
      await this.store.put(rec);
      const { type: _t, ...rest } = e;
      await this.store.append(rec.id, 'generation', rest as unknown as Record<string, unknown>);
    } else {
      const r = e.result;
      await this.store.append(rec.id, 'done', {
        reason: r.reason,
        detail: r.detail,
        complete: r.complete,
        generations: r.generations,
        forwardCalls: r.forwardCalls,
        best: r.best && { generation: r.best.generation, source: r.best.source, trainLoss: r.best.trainLoss, dev: r.best.dev },
        test: r.test,
        ...(r.bytes !== undefined ? { bytes: r.bytes, rounds: r.rounds } : {}),
      });
    }
  }
}
