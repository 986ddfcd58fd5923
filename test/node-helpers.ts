/**
 * Shared pieces of the tuning-node tests: a private redis-server (Debian's binary on a free loopback port, no
 * persistence, stopped at the end), node processes started through the CLI, the HTTP calls and an SSE reader.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

export const TOKEN = 'test-token-0123456789abcdef';
export const CLI = join(process.cwd(), 'dist', 'ts', 'cli', 'main.js');
export const REDIS_SERVER = '/usr/bin/redis-server';

/**
 * A small plaintext job on the tiny model and the fixture data: `generations` generations of 4 candidates. With
 * dim 6 CMA-ES converges after about 300 generations; long jobs (`dim` 50) run their whole budget.
 */
export function tinyJob(generations: number, extra: Record<string, unknown> = {}, dim = 6) {
  return {
    model: 'tiny-bert',
    data: { train: 'sentiment.jsonl', test: 'sentiment.csv' },
    settings: {
      shots: 4, 'dev-shots': 4, 'seq-len': 20, 'prompt-length': 2, dim, popsize: 4, budget: 4 * generations,
      'eval-every': 2, attention: 'softmax', seed: 3,
    },
    ...extra,
  }; // prettier-ignore
}

/** A data folder with the fixtures in it. */
export function dataFolder(dir: string): string {
  mkdirSync(dir, { recursive: true });
  for (const f of ['sentiment.jsonl', 'sentiment.csv']) copyFileSync(join(process.cwd(), 'test', 'fixtures', f), join(dir, f));
  return dir;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Waits until `child`'s output matches `re` (or it exits, or `ms` pass). */
function waitForOutput(child: ChildProcess, re: RegExp, what: string, ms = 20_000): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => done(new Error(`${what}: no ${re} after ${ms} ms; output: ${text}`)), ms);
    const onData = (b: Buffer) => {
      text += b.toString();
      const m = re.exec(text);
      if (m) done(null, m);
    };
    const onExit = (code: number | null) => done(new Error(`${what} exited (${code}) before ${re}; output: ${text}`));
    const done = (err: Error | null, m?: RegExpExecArray) => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(m!);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
}

export interface Redis {
  url: string;
  stop(): Promise<void>;
}

/** Starts a private redis-server; stop() kills it. */
export async function startRedis(): Promise<Redis> {
  const port = await freePort();
  const child = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await waitForOutput(child, /Ready to accept connections/, 'redis-server');
  return { url: `redis://127.0.0.1:${port}`, stop: () => stopChild(child) };
}

function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

export interface NodeProcess {
  url: string;
  name: string;
  child: ChildProcess;
  /** The node's stderr so far. */
  log(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts `secp-tune node` as a process on a free port. */
export async function startNodeProcess(name: string, args: string[]): Promise<NodeProcess> {
  const child = spawn(process.execPath, [CLI, 'node', '--port', '0', '--name', name, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SECP_TUNE_TOKEN: TOKEN },
  });
  let log = '';
  child.stderr!.on('data', (b: Buffer) => (log += b.toString()));
  const m = await waitForOutput(child, /listening on (http:\/\/[^ ]+) /, `node ${name}`);
  return { url: m[1]!, name, child, log: () => log, stop: (signal) => stopChild(child, signal) };
}

export interface Reply {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** One API call with the token (or `token`: null for none). */
export async function call(base: string, method: string, path: string, body?: unknown, token: string | null = TOKEN): Promise<Reply> {
  const r = await fetch(base + path, {
    method,
    headers: { ...(token !== null ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await r.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: r.status, body: parsed };
}

export interface SseEvent {
  id: string;
  type: string;
  data: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/**
 * Reads a job's event stream to its end (the job's final status), calling `onEvent` for each; resolves all of them.
 * Bounded: rejects after `ms`.
 */
export async function readEvents(base: string, id: string, onEvent: (e: SseEvent) => void = () => undefined, ms = 120_000): Promise<SseEvent[]> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), ms);
  try {
    const r = await fetch(`${base}/v1/jobs/${id}/events`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: abort.signal });
    if (r.status !== 200) throw new Error(`events of ${id}: HTTP ${r.status} ${await r.text()}`);
    if (!(r.headers.get('content-type') ?? '').startsWith('text/event-stream')) throw new Error('events are not text/event-stream');
    const events: SseEvent[] = [];
    let buf = '';
    const decoder = new TextDecoder();
    for await (const chunk of r.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      let k: number;
      while ((k = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, k);
        buf = buf.slice(k + 2);
        const e: SseEvent = { id: '', type: 'message', data: null };
        for (const line of block.split('\n')) {
          if (line.startsWith('id: ')) e.id = line.slice(4);
          else if (line.startsWith('event: ')) e.type = line.slice(7);
          else if (line.startsWith('data: ')) e.data = JSON.parse(line.slice(6));
        }
        if (e.data === null) continue; // a keep-alive comment
        events.push(e);
        onEvent(e);
      }
    }
    return events;
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `check` every 50 ms until it returns a value (bounded by `ms`). */
export async function until<T>(what: string, check: () => Promise<T | undefined | null | false>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== null && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The parts of two results that must agree bit for bit (times excluded). */
export function comparable(result: any): unknown { // eslint-disable-line @typescript-eslint/no-explicit-any
  const r = result.result;
  return { best: r.best, history: r.history, test: r.test, initial: r.initial, forwardCalls: r.forwardCalls, evaluatorCalls: r.evaluatorCalls, reason: r.reason, generations: r.generations };
}
