/**
 * The contract between the shape-inference driver (`../shape-infer.ts`) and the per-op inference
 * functions (`elementwise.ts`, `linalg.ts`, `conv.ts`, `norm.ts`, `shape-ops.ts`, `control.ts`), plus
 * the dim arithmetic they share: symbolic broadcasting, axis normalisation, products.
 */
import type { DType } from '../dtype.js';
import type { Dim, Graph, Node, ValueType } from '../ir.js';

/**
 * A statically known value: a small integer tensor (rank 0 or 1) whose elements may be symbolic.
 * `Shape(x)` of `x: [batch, 128]` is `{ rank: 1, values: ['batch', 128] }`.
 */
export interface KnownValue {
  dtype: DType;
  /** 0 for a scalar, 1 for a vector. */
  rank: 0 | 1;
  values: Dim[];
}

/** What an inference function sees of its node. */
export interface ShapeContext {
  readonly node: Node;
  /** Default-domain opset version of the model. */
  readonly opset: number;
  /** Number of inputs, counting omitted optional ones (`''`). */
  readonly inputCount: number;
  /** True when input `i` is present (not omitted). */
  has(i: number): boolean;
  /** The type of input `i` (undefined when omitted or unknown). */
  input(i: number): ValueType | undefined;
  /** The statically known value of input `i` (small int tensors, shape chains), if any. */
  known(i: number): KnownValue | undefined;
  /** Integer values of input `i` when all are concrete numbers. */
  ints(i: number): number[] | undefined;
  /** Reports an inconsistency found while inferring (becomes a validation problem). */
  problem(message: string, input?: string): void;
  /** Infers a subgraph attribute given the types of its formal inputs; returns its output types. */
  subgraph(g: Graph, inputTypes: (ValueType | undefined)[]): (ValueType | undefined)[];
}

/** Infers output types of one node. Entries may be undefined (unknown). Must never throw. */
export type ShapeFn = (ctx: ShapeContext) => (ValueType | undefined)[];

/** Computes the known value of an output from known input values (constant propagation). */
export type ValueFn = (ctx: ShapeContext) => (KnownValue | undefined)[];

/** Thrown inside inference functions for a definite inconsistency; the driver turns it into a problem. */
export class ShapeError extends Error {
  constructor(message: string, readonly input?: string) {
    super(message);
  }
}

/** `axis` in `[-rank, rank)` → `[0, rank)`; throws ShapeError when out of range. */
export function normAxis(axis: number, rank: number, what = 'axis'): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!(a >= 0 && a < rank)) throw new ShapeError(`${what} ${axis} is out of range for rank ${rank}`);
  return a;
}

/** Product of dims; null unless every dim is a number. */
export function dimProduct(dims: readonly Dim[]): number | null {
  let p = 1;
  for (const d of dims) {
    if (typeof d !== 'number') return null;
    p *= d;
  }
  return p;
}

/** Broadcasts two dims (numpy rules with symbols): equal → it; 1 → the other; a number > 1 wins over a symbol. */
export function broadcastDim(a: Dim, b: Dim): Dim {
  if (a === b) return a;
  if (a === 1) return b;
  if (b === 1) return a;
  if (typeof a === 'number' && typeof b === 'number') throw new ShapeError(`cannot broadcast dims ${a} and ${b}`);
  if (typeof a === 'number') return a;
  if (typeof b === 'number') return b;
  return null;
}

/** Multidirectional (numpy) broadcast of several shapes. */
export function broadcastShapes(shapes: readonly (readonly Dim[])[]): Dim[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const s of shapes) {
      const k = s.length - rank + i;
      if (k >= 0) {
        try {
          d = broadcastDim(d, s[k]!);
        } catch {
          throw new ShapeError(`cannot broadcast shapes ${shapes.map(fmtShape).join(' and ')}`);
        }
      }
    }
    out.push(d);
  }
  return out;
}

/** `[batch, 3, ?]` */
export function fmtShape(s: readonly Dim[] | undefined): string {
  return s ? `[${s.map((d) => (d === null ? '?' : String(d))).join(', ')}]` : '[?]';
}

/** A type with the dtype of `t` and a new shape (unknown shape when `shape` is undefined). */
export function withShape(dtype: DType | undefined, shape: Dim[] | undefined): ValueType | undefined {
  if (!dtype) return undefined;
  return shape ? { dtype, shape } : { dtype };
}

/** Largest rank inference will build (corrupt files can claim any length). */
export const MAX_RANK = 1024;

/** `n` unknown dims. */
export function unknownDims(n: number): Dim[] {
  if (!(n >= 0 && n <= MAX_RANK)) throw new ShapeError(`rank ${n} is not plausible`);
  return Array.from({ length: n }, () => null);
}

/** Reads an ints attribute, falling back to the int values of input `i` (opset changes moved many attrs to inputs). */
export function intsFrom(ctx: ShapeContext, attrName: string, inputIndex: number): number[] | undefined | 'unknown' {
  const a = ctx.node.attributes[attrName];
  if (a?.type === 'ints') return a.value;
  if (ctx.has(inputIndex)) return ctx.ints(inputIndex) ?? 'unknown';
  return undefined;
}

/**
 * Symbolic products: a dim like `batch*seq` or `4*heads` is a coefficient times named symbols, written
 * canonically (coefficient first, symbols sorted) so equal products compare equal as strings.
 */
interface Monomial {
  coef: number;
  syms: string[];
}

function parseDim(d: Dim): Monomial | null {
  if (d === null) return null;
  if (typeof d === 'number') return { coef: d, syms: [] };
  let coef = 1;
  const syms: string[] = [];
  for (const part of d.split('*')) {
    if (/^\d+$/.test(part)) coef *= Number(part);
    else syms.push(part);
  }
  return { coef, syms: syms.sort() };
}

function formatDim(m: Monomial): Dim {
  if (m.syms.length === 0) return m.coef;
  if (m.coef === 0) return 0;
  return [...(m.coef === 1 ? [] : [String(m.coef)]), ...m.syms].join('*');
}

/** Product of two dims, symbolic when either is a symbol (`batch` × `seq` = `batch*seq`). */
export function mulDim(a: Dim, b: Dim): Dim {
  const x = parseDim(a);
  const y = parseDim(b);
  if (!x || !y) return a === 0 || b === 0 ? 0 : null;
  return formatDim({ coef: x.coef * y.coef, syms: [...x.syms, ...y.syms].sort() });
}

/** Product of many dims (1 for none). */
export function mulDims(dims: readonly Dim[]): Dim {
  return dims.reduce<Dim>((p, d) => mulDim(p, d), 1);
}

/** `a / b` when it divides exactly (symbols cancel by name), else null. */
export function divDim(a: Dim, b: Dim): Dim {
  const x = parseDim(a);
  const y = parseDim(b);
  if (!x || !y || y.coef === 0 || x.coef % y.coef !== 0) return null;
  const syms = [...x.syms];
  for (const s of y.syms) {
    const k = syms.indexOf(s);
    if (k < 0) return null;
    syms.splice(k, 1);
  }
  return formatDim({ coef: x.coef / y.coef, syms });
}

/** dtype of input `i`, if known. */
export function dt(ctx: ShapeContext, i: number): DType | undefined {
  return ctx.input(i)?.dtype;
}

/** Reports a problem when present inputs in `idx` disagree on dtype (ONNX type constraint `T`). */
export function sameDType(ctx: ShapeContext, idx: readonly number[]): void {
  let first: { i: number; dtype: DType } | undefined;
  for (const i of idx) {
    const t = ctx.input(i);
    if (!t || !ctx.has(i)) continue;
    if (!first) first = { i, dtype: t.dtype };
    else if (t.dtype !== first.dtype) {
      ctx.problem(`input ${i} '${ctx.node.inputs[i]}' is ${t.dtype} but input ${first.i} '${ctx.node.inputs[first.i]}' is ${first.dtype}`, ctx.node.inputs[i]);
    }
  }
}
