/**
 * One tuning session, run by the node in a piscina worker thread: prepares the job's model and data exactly as
 * `secp-tune tune` does, runs the loop with its checkpoint in the job's folder (resuming it when a previous
 * session of the job left one: a node killed mid-job is continued bit for bit by the next), posts every event to
 * the node through `port`, and stops between generations when the node posts 'cancel'.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { join } from 'node:path';
import type { MessagePort } from 'node:worker_threads';
import { SecpError } from '../../bindings/errors.js';
import { createEvaluator, mpcRun, prepare, resultRecord, tuneOptionsOf } from '../cli/tune.js';
import { tune, type TuneEvent, type TuneResult } from '../tuning/loop.js';
import { UsageError } from '../cli/options.js';
import { inJobTerms, tuneValues, type JobRequest, type NodeFolders } from './spec.js';

export interface SessionTask {
  id: string;
  request: JobRequest;
  folders: NodeFolders;
  /** The job's folder in the store: checkpoint.json and result.json. */
  dir: string;
  port: MessagePort;
}

/**
 * What the session posts, in order on its port: the loop's events (typed arrays as arrays) and log lines, then
 * one 'end' with the result's summary or the error.
 */
export type SessionMessage =
  | { type: 'event'; event: TuneEvent }
  | { type: 'log'; line: string }
  | { type: 'end'; summary: ResultSummary }
  | { type: 'end'; error: { code: string; message: string } };

/** The result's summary the node keeps in the job record (the whole result is the job's result.json). */
export interface ResultSummary {
  reason: TuneResult['reason'];
  complete: boolean;
  generations: number;
  forwardCalls: number;
  bestDev: number | null;
  test: number | null;
  bytes: number | null;
  rounds: number | null;
}

export function summarize(r: TuneResult): ResultSummary {
  return {
    reason: r.reason,
    complete: r.complete,
    generations: r.generations,
    forwardCalls: r.forwardCalls,
    bestDev: r.best?.dev?.metric ?? null,
    test: r.test?.metric ?? null,
    bytes: r.bytes ?? null,
    rounds: r.rounds ?? null,
  };
}

/** Structured-clone-safe copy of an event (Float64Array best prompts as plain arrays). */
function plain(e: TuneEvent): TuneEvent {
  return JSON.parse(JSON.stringify(e, (_k, v: unknown) => (v instanceof Float64Array ? Array.from(v) : v))) as TuneEvent;
}

export default async function runSession(task: SessionTask): Promise<void> {
  const { port, dir } = task;
  const abort = new AbortController();
  port.on('message', (m: unknown) => {
    if (m === 'cancel') abort.abort();
  });
  const post = (m: SessionMessage) => port.postMessage(m);
  const checkpoint = join(dir, 'checkpoint.json');
  try {
    const values = tuneValues(task.request, task.folders, checkpoint);
    const resume = existsSync(checkpoint);
    if (resume) values['resume'] = true;
    const log = (line: string) => post({ type: 'log', line });
    const prep = prepare(values, log);
    const mode = values['mpc'] === true ? 'mpc' : 'plaintext';
    const evaluator = await createEvaluator(mode, values, prep, log, mode === 'mpc' ? mpcRun(values, prep) : undefined);
    try {
      for await (const e of tune({ ...tuneOptionsOf(values, prep, evaluator, mode), signal: abort.signal })) {
        post({ type: 'event', event: plain(e) });
        // A plaintext evaluator on this thread never gives the event loop a turn: take one, so 'cancel' arrives.
        await nextTurn();
        if (e.type === 'done') {
          if (e.result.complete) writeFileSync(join(dir, 'result.json'), resultRecord(e.result, values, prep, evaluator));
          post({ type: 'end', summary: summarize(e.result) });
          return;
        }
      }
    } finally {
      await evaluator.close?.();
    }
    throw new SecpError('ERR_INTERNAL', 'the run ended without a result');
  } catch (e) {
    // Settings the request's schema cannot see (e.g. a sentence-pair task without its column) fail the job.
    const err = e instanceof UsageError ? new SecpError('ERR_INVALID_JOB', inJobTerms(e.message)) : (e as Error & { code?: string });
    post({ type: 'end', error: { code: typeof err.code === 'string' ? err.code : 'ERR_INTERNAL', message: err.message ?? String(e) } });
  }
  // The node closes the channel once it has read the end.
}
