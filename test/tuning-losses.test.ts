import test from 'ava';
import { SecpError } from '../bindings/errors.js';
import { accuracy, crossEntropy, f1Score, hingeLoss, predictions, scoreBatch } from '../ts/tuning/losses.js';

const close = (t: import('ava').ExecutionContext, a: number, b: number, eps = 1e-12) =>
  t.true(Math.abs(a - b) <= eps, `${a} vs ${b}`);

// Two examples, two labels: logits rows [1, 2] and [0.5, 0], both labelled 1.
const LOGITS = [1, 2, 0.5, 0];
const LABELS = [1, 1];

test('cross-entropy by hand: mean of log(1 + e^-1) and log(1 + e^0.5)', (t) => {
  close(t, crossEntropy(LOGITS, LABELS, 2), (Math.log(1 + Math.exp(-1)) + Math.log(1 + Math.exp(0.5))) / 2);
  close(t, crossEntropy(LOGITS, LABELS, 2), 0.64366933585, 1e-10);
  // Shift invariance and no overflow for huge logits.
  close(t, crossEntropy([1001, 1002, 1000.5, 1000], LABELS, 2), crossEntropy(LOGITS, LABELS, 2), 1e-9);
  close(t, crossEntropy([0, 0, 0], [2], 3), Math.log(3));
});

test("hinge by hand (BBT's, margin 2): mean over examples of the sum over wrong classes", (t) => {
  // Example 0: max(0, 1 - 2 + 2) = 1; example 1: max(0, 0.5 - 0 + 2) = 2.5.
  t.is(hingeLoss(LOGITS, LABELS, 2), 1.75);
  t.is(hingeLoss(LOGITS, LABELS, 2, 1), (0 + 1.5) / 2);
  // Three classes: [3, 1, 2.5] labelled 0: 0 + max(0, 2.5 - 3 + 2) = 1.5.
  t.is(hingeLoss([3, 1, 2.5], [0], 3), 1.5);
});

test('accuracy, predictions (first max wins) and binary F1', (t) => {
  t.deepEqual(Array.from(predictions([1, 2, 0.5, 0, 3, 3], 2)), [1, 0, 0]);
  t.is(accuracy(LOGITS, LABELS, 2), 0.5);
  // preds [1, 0] vs labels [1, 1]: tp 1, fn 1 -> 2/3.
  close(t, f1Score(LOGITS, LABELS, 2), 2 / 3);
  t.is(f1Score([1, 0, 1, 0], [0, 0], 2), 0);
  t.is(f1Score([0, 1, 0, 1], [1, 1], 2), 1);
});

test('scoreBatch selects the loss and reports every score', (t) => {
  const s = scoreBatch(LOGITS, LABELS, 2, 'hinge');
  t.is(s.loss, 1.75);
  t.is(s.hinge, 1.75);
  close(t, s.ce, 0.64366933585, 1e-10);
  t.is(s.accuracy, 0.5);
  close(t, s.f1!, 2 / 3);
  t.is(scoreBatch(LOGITS, LABELS, 2, 'ce').loss, s.ce);
  t.is(scoreBatch([3, 1, 2.5], [0], 3, 'ce').f1, null);
});

test('shape and label errors', (t) => {
  t.is(t.throws(() => crossEntropy([1, 2, 3], [0, 1], 2), { instanceOf: SecpError })?.code, 'ERR_SHAPE_MISMATCH');
  t.is(
    t.throws(() => hingeLoss([1, 2], [2], 2), { instanceOf: SecpError })?.message,
    'label 2 of example 0 is outside 0..1',
  );
});
