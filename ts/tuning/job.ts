/**
 * A handle on one tuning run for callers that want events instead of an iterator: `startTuning(options)` starts
 * `tune(options)` at once and returns a `TuningJob` that emits each event, resolves `result`, and `cancel()`s
 * (between generations, the checkpoint staying resumable; `options.signal` aborts it as well).
 *
 *   const job = startTuning({ evaluator, labels, budget: 400 });
 *   job.on('generation', (e) => console.log(e.generation, e.loss.best));
 *   const result = await job.result; // result.complete is false after cancel()
 */
import { EventEmitter } from 'node:events';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { SecpError } from '../../bindings/errors.js';
import { tune, type DoneEvent, type GenerationEvent, type StartEvent, type TuneOptions, type TuneResult } from './loop.js';

export interface TuningJobEvents {
  start: [StartEvent];
  generation: [GenerationEvent];
  done: [DoneEvent];
  /** The run failed; `result` rejects with the same error. */
  error: [unknown];
}

export class TuningJob extends EventEmitter<TuningJobEvents> {
  /** The run's result: resolves once it finished or was cancelled (complete: false), rejects if it failed. */
  readonly result: Promise<TuneResult>;
  /** Aborted by cancel() or by the caller's signal. */
  readonly signal: AbortSignal;
  /** The last generation event, null before the first. */
  last: GenerationEvent | null = null;
  private readonly abort = new AbortController();

  constructor(options: TuneOptions) {
    super();
    this.signal = options.signal ? AbortSignal.any([options.signal, this.abort.signal]) : this.abort.signal;
    this.result = this.run({ ...options, signal: this.signal });
    // The error is reported on 'error' when someone listens, and always through `result`.
    this.result.catch(() => undefined);
  }

  /** Stops the run after the current generation. */
  cancel(): void {
    this.abort.abort();
  }

  private async run(options: TuneOptions): Promise<TuneResult> {
    // The first event comes after a microtask at least: listeners attached right after startTuning() see it.
    try {
      for await (const e of tune(options)) {
        if (e.type === 'start') this.emit('start', e);
        else if (e.type === 'generation') {
          this.last = e;
          this.emit('generation', e);
          // An evaluator that computes on this thread never gives the event loop a turn: take one, so that a
          // cancel() from a timer or an I/O callback stops the run after this generation.
          await nextTurn();
        } else {
          this.emit('done', e);
          return e.result;
        }
      }
    } catch (err) {
      if (this.listenerCount('error') > 0) this.emit('error', err);
      throw err;
    }
    throw new SecpError('ERR_INTERNAL', 'tune ended without a result');
  }
}

/** Starts a run of `tune(options)` and returns its handle. */
export function startTuning(options: TuneOptions): TuningJob {
  return new TuningJob(options);
}
