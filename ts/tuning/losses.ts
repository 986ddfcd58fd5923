/**
 * Losses and metrics the data owner computes in the clear from the opened logits (PAPER-NOTES §1 step 6).
 * Logits are row-major B × L (one row per example); for a population they are C × B × L and `scoreBatch` takes
 * one candidate's slice.
 *
 * BBT's definitions (metrics.py / hinge_loss.py):
 * - cross-entropy: mean over examples of -log softmax(logits)_y. BBT's softmax runs over the whole vocabulary;
 *   ours over the label words only (DESIGN.md §4), the same as BBT's with every other word's score at -∞.
 * - hinge: mean over examples of Σ_{c≠y} max(0, l_c - l_y + margin), margin 2 (BBT sums over the batch, then
 *   divides by the batch size).
 * - accuracy; predictions are the first arg-max.
 * - F1 (MRPC): binary F1 of class 1, 2TP / (2TP + FP + FN), 0 when there are no positives at all (sklearn's
 *   zero_division behaviour).
 * CMA-ES only ranks fitnesses, so only the order these induce matters for the search.
 */
import { SecpError } from '../../bindings/errors.js';

export type LossKind = 'ce' | 'hinge';

/** BBT's hinge margin. */
export const HINGE_MARGIN = 2;

function check(logits: ArrayLike<number>, labels: ArrayLike<number>, numLabels: number): number {
  if (!Number.isSafeInteger(numLabels) || numLabels < 2) {
    throw new SecpError('ERR_INVALID_ARGUMENT', `numLabels must be an integer >= 2, got ${numLabels}`);
  }
  const B = labels.length;
  if (logits.length !== B * numLabels) {
    throw new SecpError('ERR_SHAPE_MISMATCH', `${logits.length} logits for ${B} examples × ${numLabels} labels`);
  }
  for (let b = 0; b < B; b++) {
    const y = labels[b]!;
    if (!Number.isSafeInteger(y) || y < 0 || y >= numLabels) {
      throw new SecpError('ERR_INVALID_ARGUMENT', `label ${y} of example ${b} is outside 0..${numLabels - 1}`);
    }
  }
  return B;
}

/** Mean cross-entropy over the batch (log-sum-exp with the row maximum subtracted). */
export function crossEntropy(logits: ArrayLike<number>, labels: ArrayLike<number>, numLabels: number): number {
  const B = check(logits, labels, numLabels);
  let total = 0;
  for (let b = 0; b < B; b++) {
    const o = b * numLabels;
    let max = -Infinity;
    for (let c = 0; c < numLabels; c++) max = Math.max(max, logits[o + c]!);
    let sum = 0;
    for (let c = 0; c < numLabels; c++) sum += Math.exp(logits[o + c]! - max);
    total += Math.log(sum) + max - logits[o + labels[b]!]!;
  }
  return total / B;
}

/** BBT's multi-class hinge, mean over examples of the sum over wrong classes. */
export function hingeLoss(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  numLabels: number,
  margin = HINGE_MARGIN,
): number {
  const B = check(logits, labels, numLabels);
  let total = 0;
  for (let b = 0; b < B; b++) {
    const o = b * numLabels;
    const target = logits[o + labels[b]!]!;
    for (let c = 0; c < numLabels; c++) {
      if (c !== labels[b]) total += Math.max(0, logits[o + c]! - target + margin);
    }
  }
  return total / B;
}

/** Arg-max per example (the first maximum wins a tie). */
export function predictions(logits: ArrayLike<number>, numLabels: number): Int32Array {
  if (logits.length % numLabels !== 0) {
    throw new SecpError('ERR_SHAPE_MISMATCH', `${logits.length} logits are not rows of ${numLabels}`);
  }
  const B = logits.length / numLabels;
  const out = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    let best = 0;
    for (let c = 1; c < numLabels; c++) if (logits[b * numLabels + c]! > logits[b * numLabels + best]!) best = c;
    out[b] = best;
  }
  return out;
}

export function accuracy(logits: ArrayLike<number>, labels: ArrayLike<number>, numLabels: number): number {
  const B = check(logits, labels, numLabels);
  const pred = predictions(logits, numLabels);
  let right = 0;
  for (let b = 0; b < B; b++) if (pred[b] === labels[b]) right++;
  return right / B;
}

/** Binary F1 of `positive` (default class 1). */
export function f1Score(logits: ArrayLike<number>, labels: ArrayLike<number>, numLabels: number, positive = 1): number {
  const B = check(logits, labels, numLabels);
  const pred = predictions(logits, numLabels);
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let b = 0; b < B; b++) {
    const p = pred[b] === positive;
    const t = labels[b] === positive;
    if (p && t) tp++;
    else if (p) fp++;
    else if (t) fn++;
  }
  return tp + fp + fn === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn);
}

export interface BatchScore {
  /** The selected loss (what CMA-ES minimises). */
  loss: number;
  ce: number;
  hinge: number;
  accuracy: number;
  /** Binary tasks only; null otherwise. */
  f1: number | null;
}

/** Every score of one candidate's logits (B × L). */
export function scoreBatch(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  numLabels: number,
  loss: LossKind,
  margin = HINGE_MARGIN,
): BatchScore {
  const ce = crossEntropy(logits, labels, numLabels);
  const hinge = hingeLoss(logits, labels, numLabels, margin);
  return {
    loss: loss === 'ce' ? ce : hinge,
    ce,
    hinge,
    accuracy: accuracy(logits, labels, numLabels),
    f1: numLabels === 2 ? f1Score(logits, labels, numLabels) : null,
  };
}
