// Metrics against hand-computed cases (the same numbers scikit-learn gives): confusion matrix, per-class
// and macro precision/recall/F1, top-5, ROC-AUC with ties, average precision, multi-label, regression.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { createMetrics, metricDirection, rankingMetrics } from './metrics.js';

const close = (a: number, b: number, msg?: string) => assert.ok(Math.abs(a - b) < 1e-9, `${msg ?? ''} ${a} vs ${b}`);

test('multi-class: accuracy, confusion matrix, per-class and macro precision/recall/F1, streamed over two batches', () => {
  // targets 0 0 1 1 2 2; predictions (argmax) 0 1 1 1 2 0
  const logits = [[3, 1, 0], [0, 2, 1], [0, 5, 1], [1, 2, 0], [0, 0, 4], [2, 1, 1]];
  const y = [0, 0, 1, 1, 2, 2];
  const m = createMetrics({ task: 'classification', shape: [3] });
  m.update(logits.slice(0, 4).flat(), BigInt64Array.from(y.slice(0, 4).map(BigInt)), 4);
  m.update(logits.slice(4).flat(), BigInt64Array.from(y.slice(4).map(BigInt)), 2);
  const r = m.result();
  assert.deepEqual(r.confusion, [[1, 1, 0], [0, 2, 0], [1, 0, 1]]);
  close(r.scalars.accuracy!, 4 / 6);
  // class 0: P 1/2 R 1/2; class 1: P 2/3 R 1; class 2: P 1 R 1/2
  assert.deepEqual(r.perClass!.support, [2, 2, 2]);
  close(r.perClass!.precision[1]!, 2 / 3);
  close(r.perClass!.recall[2]!, 0.5);
  const f1 = [0.5, 0.8, 2 / 3];
  f1.forEach((f, c) => close(r.perClass!.f1[c]!, f, `F1 of class ${c}`));
  close(r.scalars.f1!, (0.5 + 0.8 + 2 / 3) / 3);
  close(r.scalars.precision!, (0.5 + 2 / 3 + 1) / 3);
  close(r.scalars.recall!, (0.5 + 1 + 0.5) / 3);
  assert.equal(r.scalars.top5, undefined, 'top-5 only with more than 5 classes');
});

test('top-5 with 7 classes counts targets ranked in the first five', () => {
  const m = createMetrics({ task: 'classification', shape: [7] });
  // sample 1: target 5 has the 6th highest score (not top-5); sample 2: target 4 is 3rd
  m.update([7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6], BigInt64Array.from([5n, 4n]), 2);
  assert.equal(m.result().scalars.top5, 0.5);
});

test('ROC-AUC (ties count half) and average precision match hand computation', () => {
  // scores with a tie between a positive and a negative at 0.5
  const scores = [0.9, 0.8, 0.5, 0.5, 0.3, 0.1];
  const pos = [1, 0, 1, 0, 1, 0];
  // pairs (pos, neg): 9; pos 0.9 beats 3 negatives; pos 0.5 beats 0.1, ties 0.5 (½), loses to 0.8; pos 0.3 beats 0.1
  // → (3 + 1.5 + 1) / 9
  const r = rankingMetrics(scores, pos);
  close(r.auc, 5.5 / 9);
  // AP: thresholds 0.9 (P 1, R 1/3), 0.8 (P 1/2, R 1/3), 0.5 (P 2/4, R 2/3), 0.3 (P 3/5, R 1), 0.1
  close(r.prAuc, (1 / 3) * 1 + (1 / 3) * 0.5 + (1 / 3) * 0.6);
  assert.ok(Number.isNaN(rankingMetrics([0.1, 0.2], [1, 1]).auc), 'one class only: undefined');
});

test('binary (one logit) and two-class softmax report the same ROC-AUC', () => {
  const logit = [2, -1, 0.5, -0.5, 1, -2];
  const y = [1, 0, 0, 0, 1, 1];
  const b = createMetrics({ task: 'binary', shape: [1] });
  b.update(logit, Float32Array.from(y), 6);
  const rb = b.result();
  assert.deepEqual(rb.confusion, [[2, 1], [1, 2]]);
  close(rb.scalars.accuracy!, 4 / 6);
  close(rb.scalars.precision!, 2 / 3);
  close(rb.scalars.recall!, 2 / 3);
  const two = createMetrics({ task: 'classification', shape: [2] });
  two.update(logit.flatMap((l) => [0, l]), BigInt64Array.from(y.map(BigInt)), 6);
  close(two.result().scalars.auc!, rb.scalars.auc!);
  close(rb.scalars.auc!, rankingMetrics(logit, y).auc);
});

test('multi-label: element accuracy, exact match, micro and macro F1', () => {
  const m = createMetrics({ task: 'multilabel', shape: [2] });
  // rows (targets / predicted by logit > 0): [1,0]/[1,0]  [1,1]/[1,0]  [0,1]/[1,1]
  m.update([1, -1, 2, -3, 0.5, 1], Float32Array.from([1, 0, 1, 1, 0, 1]), 3);
  const r = m.result();
  close(r.scalars.accuracy!, 4 / 6);
  close(r.scalars.exact_match!, 1 / 3);
  // label 0: tp 2 fp 1 fn 0 → F1 0.8; label 1: tp 1 fp 0 fn 1 → F1 2/3; micro: tp 3 fp 1 fn 1 → 0.75
  close(r.perClass!.f1[0]!, 0.8);
  close(r.perClass!.f1[1]!, 2 / 3);
  close(r.scalars.f1!, (0.8 + 2 / 3) / 2);
  close(r.scalars.micro_f1!, 0.75);
});

test('regression: MAE, RMSE and R²', () => {
  const m = createMetrics({ task: 'regression', shape: [1] });
  m.update([2.5, 0, 2, 8], Float32Array.from([3, -0.5, 2, 7]), 4);
  const r = m.result().scalars;
  close(r.mae!, (0.5 + 0.5 + 0 + 1) / 4);
  close(r.rmse!, Math.sqrt((0.25 + 0.25 + 0 + 1) / 4));
  // scikit-learn's r2_score([3, -0.5, 2, 7], [2.5, 0, 2, 8]) = 0.9486081370449679
  close(r.r2!, 0.9486081370449679);
  assert.equal(metricDirection('rmse'), 'min');
  assert.equal(metricDirection('val_loss'), 'min');
  assert.equal(metricDirection('auc'), 'max');
});
