/**
 * Shape inference for control flow: If (branches merged), Loop (carried values and stacked scan
 * outputs) and Scan. Bodies are inferred by the driver through `ctx.subgraph`, with outer-scope types.
 */
import type { Dim, Graph, ValueType } from '../ir.js';
import { attrInt, attrInts } from '../ir.js';
import { type ShapeFn, ShapeError, normAxis } from './types.js';

/** Merges two possible types of one value: equal dims stay, differing dims become unknown. */
export function mergeTypes(a: ValueType | undefined, b: ValueType | undefined): ValueType | undefined {
  if (!a || !b) return a ?? b;
  if (a.dtype !== b.dtype) throw new ShapeError(`branches disagree on dtype: ${a.dtype} vs ${b.dtype}`);
  if (!a.shape || !b.shape || a.shape.length !== b.shape.length) return { dtype: a.dtype };
  return { dtype: a.dtype, shape: a.shape.map((d, i) => (d === b.shape![i] ? d : null)) };
}

function graphAttr(ctx: Parameters<ShapeFn>[0], name: string): Graph | undefined {
  const a = ctx.node.attributes[name];
  return a?.type === 'graph' ? a.value : undefined;
}

const ifOp: ShapeFn = (ctx) => {
  const cond = ctx.input(0);
  if (cond && cond.dtype !== 'bool') throw new ShapeError(`condition must be bool, got ${cond.dtype}`, ctx.node.inputs[0]);
  const thenG = graphAttr(ctx, 'then_branch');
  const elseG = graphAttr(ctx, 'else_branch');
  const t = thenG ? ctx.subgraph(thenG, []) : [];
  const e = elseG ? ctx.subgraph(elseG, []) : [];
  if (thenG && elseG && thenG.outputs.length !== elseG.outputs.length) {
    throw new ShapeError(`then_branch has ${thenG.outputs.length} outputs, else_branch has ${elseG.outputs.length}`);
  }
  return ctx.node.outputs.map((_, i) => mergeTypes(t[i], e[i]));
};

const loop: ShapeFn = (ctx) => {
  const body = graphAttr(ctx, 'body');
  if (!body) return [];
  const carried = ctx.inputCount - 2;
  const m = ctx.has(0) ? ctx.known(0)?.values[0] : undefined;
  const iterations: Dim = typeof m === 'number' && !ctx.has(1) ? m : null;
  const inTypes: (ValueType | undefined)[] = [{ dtype: 'int64', shape: [] }, { dtype: 'bool', shape: [] }];
  for (let i = 0; i < carried; i++) inTypes.push(ctx.input(i + 2));
  const outs = ctx.subgraph(body, inTypes);
  const result: (ValueType | undefined)[] = [];
  for (let i = 0; i < ctx.node.outputs.length; i++) {
    const t = outs[i + 1];
    if (i < carried) result.push(mergeTypes(ctx.input(i + 2), t) ?? t);
    else result.push(t && { dtype: t.dtype, shape: t.shape ? [iterations, ...t.shape] : undefined });
  }
  return result;
};

const scan: ShapeFn = (ctx) => {
  const body = graphAttr(ctx, 'body');
  if (!body) return [];
  const nScan = attrInt(ctx.node, 'num_scan_inputs', 0);
  if (!(nScan >= 0 && nScan <= ctx.inputCount)) throw new ShapeError(`num_scan_inputs ${nScan} exceeds the ${ctx.inputCount} inputs`);
  const nState = ctx.inputCount - nScan;
  const inAxes = attrInts(ctx.node, 'scan_input_axes') ?? Array.from({ length: nScan }, () => 0);
  const inTypes: (ValueType | undefined)[] = [];
  let seq: Dim = null;
  for (let i = 0; i < ctx.inputCount; i++) {
    const t = ctx.input(i);
    if (i < nState || !t?.shape) {
      inTypes.push(t && i >= nState ? { dtype: t.dtype } : t);
      continue;
    }
    const ax = normAxis(inAxes[i - nState] ?? 0, t.shape.length);
    seq = t.shape[ax]!;
    inTypes.push({ dtype: t.dtype, shape: t.shape.filter((_, k) => k !== ax) });
  }
  const outs = ctx.subgraph(body, inTypes);
  const outAxes = attrInts(ctx.node, 'scan_output_axes');
  return ctx.node.outputs.map((_, i) => {
    const t = outs[i];
    if (i < nState || !t) return t;
    if (!t.shape) return { dtype: t.dtype };
    const shape = [...t.shape];
    shape.splice(normAxis(outAxes?.[i - nState] ?? 0, shape.length + 1), 0, seq);
    return { dtype: t.dtype, shape };
  });
};

/** Control-flow inference functions. */
export const CONTROL_SHAPES = {
  If: ifOp,
  Loop: loop,
  Scan: scan,
} satisfies Record<string, ShapeFn>;
