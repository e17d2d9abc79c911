/**
 * The per-layer pruning report: for every prunable weight of the original model, its shape before and
 * after, kept/total elements (non-zeros after), and the FLOPs of the node that uses it before and after
 * (per sample). Unstructured sparsity leaves the dense kernels in place, so a layer's "after" FLOPs are its
 * non-zero multiply-adds (what a sparse kernel would do) while `executed` totals what onnxruntime really
 * runs; structured pruning changes both.
 */
import type { Model } from '../../onnx/ir.js';
import { estimateFlops } from '../../onnx/cost.js';
import { countZeros, prunableWeights } from './magnitude.js';

/** One weight tensor in the report. */
export interface LayerReport {
  tensor: string;
  node: string;
  opType: string;
  shapeBefore: number[];
  shapeAfter: number[];
  /** Elements before. */
  total: number;
  /** Non-zero elements after. */
  kept: number;
  /** 1 − kept/total. */
  sparsity: number;
  /** FLOPs per sample of the node using the weight, before. */
  flopsBefore: number;
  /** After: the rewritten node's FLOPs (structured) or its non-zero multiply-adds (unstructured). */
  flopsAfter: number;
}

/** The whole report. */
export interface SparsityReport {
  kind: 'unstructured' | 'structured';
  layers: LayerReport[];
  /** Over the prunable weights. */
  weights: { total: number; kept: number; sparsity: number };
  /** Every initializer element (biases, norms and constants included). */
  parameters: { before: number; after: number };
  /** Whole-model FLOPs per sample: `after` counts pruned multiply-adds as gone, `executed` is what the dense kernels run. */
  flops: { before: number; after: number; executed: number };
}

function paramCount(m: Model): number {
  let n = 0;
  for (const t of m.graph.initializers.values()) n += t.size;
  return n;
}

/** Compares a model before and after pruning. */
export function sparsityReport(o: { before: Model; after: Model; kind: SparsityReport['kind'] }): SparsityReport {
  const fb = estimateFlops(o.before, { batch: 1 });
  const fa = estimateFlops(o.after, { batch: 1 });
  const nodeFlops = (f: typeof fb) => new Map(f.nodes.map((n) => [n.node, n.flops ?? 0]));
  const nb = nodeFlops(fb);
  const na = nodeFlops(fa);
  const layers: LayerReport[] = [];
  let removed = 0;
  for (const w of prunableWeights(o.before)) {
    const before = o.before.graph.initializers.get(w.name)!;
    const after = o.after.graph.initializers.get(w.name);
    const total = before.size;
    const kept = after ? after.size - countZeros(after).zeros : 0;
    const dense = na.get(w.node) ?? 0;
    const density = after && after.size ? kept / after.size : 0;
    const flopsAfter = o.kind === 'unstructured' ? dense * density : dense;
    if (o.kind === 'unstructured') removed += dense - flopsAfter;
    layers.push({ tensor: w.name, node: w.node, opType: w.opType, shapeBefore: [...before.dims], shapeAfter: after ? [...after.dims] : [], total, kept, sparsity: 1 - kept / total, flopsBefore: nb.get(w.node) ?? 0, flopsAfter });
  }
  const total = layers.reduce((s, l) => s + l.total, 0);
  const kept = layers.reduce((s, l) => s + l.kept, 0);
  return {
    kind: o.kind,
    layers,
    weights: { total, kept, sparsity: total ? 1 - kept / total : 0 },
    parameters: { before: paramCount(o.before), after: paramCount(o.after) },
    flops: { before: fb.total, after: fa.total - removed, executed: fa.total },
  };
}

/** The report as a table (one row per weight, then totals). */
export function formatSparsityReport(r: SparsityReport): string {
  const n = (x: number) => Math.round(x).toLocaleString('en-US');
  const f = (x: number) => (x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : x >= 1e3 ? `${(x / 1e3).toFixed(1)}k` : `${Math.round(x)}`);
  const rows = [['tensor', 'op', 'shape', 'kept / total', 'sparsity', 'FLOPs before → after']];
  for (const l of r.layers) {
    const shape = l.shapeBefore.join('×') === l.shapeAfter.join('×') ? l.shapeBefore.join('×') : `${l.shapeBefore.join('×')} → ${l.shapeAfter.join('×') || 'removed'}`;
    rows.push([l.tensor, l.opType, shape, `${n(l.kept)} / ${n(l.total)}`, `${(l.sparsity * 100).toFixed(1)}%`, `${f(l.flopsBefore)} → ${f(l.flopsAfter)}`]);
  }
  rows.push(['all weights', '', '', `${n(r.weights.kept)} / ${n(r.weights.total)}`, `${(r.weights.sparsity * 100).toFixed(1)}%`, `${f(r.flops.before)} → ${f(r.flops.after)}`]);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const lines = rows.map((row) => row.map((c, i) => (i >= 3 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd());
  lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  const executed = r.kind === 'unstructured' ? `\nonnxruntime still runs ${f(r.flops.executed)} FLOPs per sample (dense kernels): unstructured zeros make the model compressible (trainfer compress), not faster; --structured removes whole channels.` : '';
  return `${lines.join('\n')}\nparameters ${n(r.parameters.before)} → ${n(r.parameters.after)}; FLOPs per sample ${f(r.flops.before)} → ${f(r.flops.after)}${executed}\n`;
}
