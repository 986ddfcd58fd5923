/**
 * The seam between the tuning loop and whatever runs the model: the plaintext float64 forward
 * (plain-evaluator.ts) or the 2-party MPC forward. One call evaluates every candidate prompt on a whole split,
 * so one CMA-ES generation is one call, i.e. one batched (MPC) forward (DESIGN.md §5).
 */

export type Split = 'train' | 'dev' | 'test';

export const SPLITS: readonly Split[] = ['train', 'dev', 'test'];

/** Traffic so far, for evaluators that meter it (MPC); counts are cumulative since the evaluator was built. */
export interface EvaluatorMeter {
  /** Bytes sent by all parties together. */
  bytes: number;
  /** Sequential communication rounds. */
  rounds: number;
}

export interface Evaluator {
  /** Prompt tokens P; prompts are P × hidden. */
  readonly promptLength: number;
  readonly hidden: number;
  readonly numLabels: number;
  /** Examples in a split (0 when the evaluator was not given that split). */
  batchSize(split: Split): number;
  /**
   * Logits of every (candidate, example) pair: `prompts` holds C prompts of promptLength × hidden values; the
   * result is C × B × numLabels, row-major, for the B examples of `split` in their fixed order.
   */
  evaluate(prompts: readonly Float64Array[], split: Split): Promise<Float64Array>;
  /** Cumulative traffic, when the evaluator can meter it. */
  meter?(): EvaluatorMeter;
  /**
   * Public facts that determine the logits (model fingerprint, attention kind, batch hashes, ...). The loop
   * records them in the checkpoint and refuses to resume a run against an evaluator that describes itself
   * differently. Must be JSON-serialisable and must not depend on performance settings such as thread counts.
   */
  describe?(): Record<string, unknown>;
  /**
   * Std of the word-embedding table, for BBTv2's embedding-scaled normal projection; absent when unknown.
   * Under MPC it is one public number the model owner publishes.
   */
  readonly embeddingStd?: number;
  /** Releases threads, sockets, ... */
  close?(): Promise<void>;
}
