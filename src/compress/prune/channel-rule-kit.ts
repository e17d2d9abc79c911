/**
 * What every channel rule shares: the rule type, axis and dimension helpers, and the pass-through and
 * fix-the-rest building blocks (the rules themselves: channel-rules.ts, channel-rules-layers.ts,
 * channel-rules-shape.ts; the model: depgraph.ts).
 */
import type { Dim } from '../../onnx/ir.js';
import type { RuleContext } from './depgraph.js';

/** How one op moves, couples and slices channel tracks. */
export type Rule = (ctx: RuleContext) => void;

/** A possibly negative axis made non-negative for rank `r`. */
export const norm = (a: number, r: number): number => (a < 0 ? a + r : a);
/** A dimension that is a known size, or undefined. */
export const num = (d: Dim | undefined): number | undefined => (typeof d === 'number' && d >= 0 ? d : undefined);

/** An op the rules do not know: the channels reaching it stay. */
export const unknownOp: Rule = (ctx) => ctx.fixInputs(`passes through ${ctx.describe()}, which structured pruning does not handle`);

/** Output 0 carries input 0's tracks unchanged. */
export const passThrough: Rule = (ctx) => {
  for (const t of ctx.in(0)) ctx.out(0, t);
  fixExtra(ctx, 1);
};

/** Fixes tracks on inputs from `from` on (scalars like Clip's min/max never carry any). */
export function fixExtra(ctx: RuleContext, from: number): void {
  for (let k = from; k < ctx.node.inputs.length; k++) for (const t of ctx.in(k)) ctx.fix(t.ids, `is a secondary input of ${ctx.describe()}`);
}

/**
 * Elementwise ops with numpy broadcasting: tracks on the same output axes are united across inputs
 * (a residual Add couples both branches); an initializer with full size on tracked axes is sliced with
 * them (a bias, a per-channel scale); an activation with full size there but no track fixes them.
 */
export const broadcast: Rule = (ctx) => {
  const n = ctx.node;
  const outShape = ctx.shape(n.outputs[0]);
  const r = outShape?.length ?? Math.max(...n.inputs.map((v) => ctx.shape(v)?.length ?? 0));
  const present = n.inputs.map((v, k) => ({ v, k })).filter((x) => x.v);
  const offset = (k: number) => r - (ctx.shape(n.inputs[k])?.length ?? r);
  // Output-axis sets with a track, and the reference ids for each.
  const sets = new Map<string, { axes: number[]; sizes: number[]; ids: Int32Array }>();
  for (const { k } of present) {
    for (const t of ctx.in(k)) {
      const axes = t.axes.map((a) => a + offset(k));
      const key = axes.join();
      const s = sets.get(key);
      if (s) ctx.unite(s.ids, t.ids);
      else sets.set(key, { axes, sizes: t.sizes, ids: t.ids });
    }
  }
  const keys = [...sets.keys()];
  for (const s of sets.values()) {
    const overlap = keys.some((k) => k !== s.axes.join() && sets.get(k)!.axes.some((a) => s.axes.includes(a)));
    if (overlap) {
      ctx.fix(s.ids, `meets differently tracked channels at ${ctx.describe()}`);
      continue;
    }
    for (const { v, k } of present) {
      if (ctx.in(k).some((t) => t.axes.map((a) => a + offset(k)).join() === s.axes.join())) continue;
      const shape = ctx.shape(v);
      const local = s.axes.map((a) => a - offset(k));
      const full = local.filter((a, i) => a >= 0 && shape && num(shape[a]) !== 1 && shape[a] !== undefined && (num(shape[a]) === s.sizes[i] || typeof shape[a] !== 'number'));
      if (!shape) {
        ctx.fix(s.ids, `meets a value of unknown shape at ${ctx.describe()}`);
        continue;
      }
      if (full.length === 0) continue; // broadcast over the channels
      const init = ctx.init(v);
      if (init && full.every((a) => num(shape[a]) !== undefined)) {
        const ids = full.length === local.length ? s.ids : ctx.project({ axes: local, sizes: s.sizes, ids: s.ids }, full);
        ctx.slice(v, full, ids, 'param');
      } else ctx.fix(s.ids, `${ctx.describe()} combines them with '${v}', which cannot shrink`);
    }
    ctx.out(0, s);
  }
};

