/**
 * Quantization arithmetic in plain JavaScript: scales and zero points from ranges, per-tensor and
 * per-channel weight quantization, int32 biases, and the 4-bit block packing of `MatMulNBits`.
 * Everything here is pure (no graphs), so tests can check it against hand-computed numbers.
 */
import { Tensor } from '../../onnx/tensor.js';

/** An 8-bit integer element type used for quantized values. */
export type QType = 'int8' | 'uint8';

/** Scale and zero point of one quantized tensor (per tensor) or of each channel (per channel). */
export interface QParams {
  qtype: QType;
  /** One scale per tensor, or one per channel along `axis`. */
  scale: Float32Array;
  zeroPoint: Int32Array;
  /** Channel axis for per-channel parameters. */
  axis?: number;
}

/** The representable range of a quantized type; `reduceRange` uses 7 bits (for CPUs without VNNI). */
export function qrange(qtype: QType, reduceRange = false): [number, number] {
  if (qtype === 'int8') return reduceRange ? [-64, 63] : [-128, 127];
  return reduceRange ? [0, 127] : [0, 255];
}

/** Options for `paramsFromRange`. */
export interface RangeOptions {
  qtype: QType;
  /** Symmetric: zero point at the middle of the range (0 for int8, 128 for uint8), range ±max|x|. */
  symmetric: boolean;
  reduceRange?: boolean;
}

/**
 * Scale and zero point that map [rmin, rmax] (widened to include 0, so 0 is exact) onto the type's range.
 * Asymmetric: scale = (rmax − rmin)/(qmax − qmin), zp = round(qmin − rmin/scale).
 * Symmetric: scale = max(|rmin|, |rmax|)/127 for int8 (±127, as ORT), /127.5 for uint8; zp = middle of the range.
 *
 * @example paramsFromRange(0, 2.55, { qtype: 'uint8', symmetric: false }) // { scale: 0.01, zeroPoint: 0 }
 */
export function paramsFromRange(rmin: number, rmax: number, o: RangeOptions): { scale: number; zeroPoint: number } {
  const [qmin, qmax] = qrange(o.qtype, o.reduceRange);
  let lo = Math.min(rmin, 0);
  let hi = Math.max(rmax, 0);
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) throw new RangeError(`cannot quantize a non-finite range [${rmin}, ${rmax}]`);
  if (o.symmetric) {
    const m = Math.max(Math.abs(lo), Math.abs(hi));
    lo = -m;
    hi = m;
  }
  // A zero (or denormal, all-but-zero) range: scale 1 (ORT's rule for scales below float32's smallest normal).
  const degenerate = { scale: 1, zeroPoint: o.symmetric ? midpoint(o.qtype) : qmin };
  if (hi === lo) return degenerate;
  if (o.symmetric) {
    // Symmetric int8 uses [-127, 127] (as ORT does) so +max and −max both map exactly.
    const half = o.qtype === 'int8' ? qmax : (qmax - qmin) / 2;
    const scale = f32(hi / half);
    return scale >= F32_TINY ? { scale, zeroPoint: midpoint(o.qtype) } : degenerate;
  }
  const scale = f32((hi - lo) / (qmax - qmin));
  if (!(scale >= F32_TINY)) return degenerate;
  const zp = roundHalfEven(qmin - lo / scale);
  return { scale, zeroPoint: Math.min(qmax, Math.max(qmin, zp)) };
}

/** float32's smallest normal number: scales below it (denormals) make x / scale overflow. */
export const F32_TINY = 1.1754943508222875e-38;

function midpoint(qtype: QType): number {
  return qtype === 'int8' ? 0 : 128;
}

const F = new Float32Array(1);
/** Rounds to the nearest float32 (scales are stored as float32; compute with exactly what ORT sees). */
export function f32(x: number): number {
  F[0] = x;
  return F[0]!;
}

/** Round half to even, as ONNX QuantizeLinear does. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Quantizes one value as ONNX QuantizeLinear does: saturate(round_half_even(x / scale) + zp), with the
 * division in float32 (so ties fall where onnxruntime's fall).
 */
export function quantizeValue(x: number, scale: number, zp: number, qmin: number, qmax: number): number {
  const q = roundHalfEven(f32(x / scale)) + zp;
  return q < qmin ? qmin : q > qmax ? qmax : q;
}

/** Options for `quantizeWeight`. */
export interface WeightQuantOptions {
  qtype: QType;
  /** Channel axis for per-channel scales; undefined = one scale for the whole tensor. */
  axis?: number;
  /** Symmetric (zero point in the middle). Weights default to symmetric: ORT's int8 kernels are fastest with zp 0. */
  symmetric?: boolean;
  reduceRange?: boolean;
  /** Use these scales (one per channel, or one) instead of ones from the min/max (zero points: symmetric). */
  scales?: Float32Array;
}

/** A quantized weight: the integer tensor and its parameters. */
export interface QuantizedWeight {
  q: Tensor;
  params: QParams;
}

/**
 * Quantizes a float tensor per tensor or per channel (min/max of each slice along `axis`).
 * Returns an int8/uint8 tensor of the same shape and its scale/zero-point vectors.
 */
export function quantizeWeight(w: Tensor, o: WeightQuantOptions): QuantizedWeight {
  const x = floatData(w);
  const dims = w.dims;
  const symmetric = o.symmetric ?? true;
  const [qmin, qmax] = qrange(o.qtype, o.reduceRange);
  const axis = o.axis === undefined ? undefined : o.axis < 0 ? o.axis + dims.length : o.axis;
  const channels = axis === undefined ? 1 : dims[axis]!;
  const inner = axis === undefined ? x.length : dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const lo = new Float64Array(channels).fill(Infinity);
  const hi = new Float64Array(channels).fill(-Infinity);
  for (let i = 0; i < x.length; i++) {
    const c = axis === undefined ? 0 : Math.floor(i / inner) % channels;
    const v = x[i]!;
    if (v < lo[c]!) lo[c] = v;
    if (v > hi[c]!) hi[c] = v;
  }
  const scale = new Float32Array(channels);
  const zeroPoint = new Int32Array(channels);
  for (let c = 0; c < channels; c++) {
    const p = paramsFromRange(x.length ? lo[c]! : 0, x.length ? hi[c]! : 0, { qtype: o.qtype, symmetric, reduceRange: o.reduceRange });
    scale[c] = o.scales ? o.scales[o.scales.length === 1 ? 0 : c]! : p.scale;
    zeroPoint[c] = o.scales ? midpoint(o.qtype) : p.zeroPoint;
  }
  const q = o.qtype === 'int8' ? new Int8Array(x.length) : new Uint8Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const c = axis === undefined ? 0 : Math.floor(i / inner) % channels;
    q[i] = quantizeValue(x[i]!, scale[c]!, zeroPoint[c]!, qmin, qmax);
  }
  return { q: new Tensor(o.qtype, dims, q), params: { qtype: o.qtype, scale, zeroPoint, axis } };
}

/**
 * Quantizes a bias to int32 with scale = inputScale · weightScale[c] and zero point 0, the form ORT needs to
 * fuse `DQ → Conv → Q` into QLinearConv (and Gemm into QGemm). Ties round to even. Values beyond int32
 * saturate — `biasSafeWeightScale` first raises weight scales so that they never do.
 */
export function quantizeBias(b: Tensor, inputScale: number, weightScale: Float32Array): { q: Tensor; scale: Float32Array } {
  const x = floatData(b);
  const scale = new Float32Array(x.length);
  const q = new Int32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const s = f32(inputScale * weightScale[weightScale.length === 1 ? 0 : i]!);
    scale[i] = s;
    const v = s === 0 ? 0 : roundHalfEven(x[i]! / s);
    q[i] = Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, v));
  }
  return { q: new Tensor('int32', b.dims, q), scale };
}

/**
 * Weight scales raised where `inputScale · weightScale` would push the int32 bias out of range (a
 * BatchNorm with γ ≈ 0 folded into a Conv leaves a near-zero weight channel beside a normal bias): as
 * onnxruntime's quantizer does, the smallest valid bias scale is 1.0001 · 2·|b| / (2³¹ − 1 − (−2³¹ + 1)),
 * per channel (per tensor: over max|b|), and the weight scale grows by the ratio. Returns undefined when
 * no scale needs to change.
 *
 * @example biasSafeWeightScale(Tensor.f32([1], [5]), 0.5, Float32Array.of(7.8e-10)) // ≈ [4.66e-9]
 */
export function biasSafeWeightScale(b: Tensor, inputScale: number, weightScale: Float32Array): Float32Array | undefined {
  const x = floatData(b);
  const qrangeInt32 = 2 ** 31 - 1 - (-(2 ** 31) + 1);
  const out = Float32Array.from(weightScale);
  let changed = false;
  const fix = (i: number, absmax: number): void => {
    const smallest = (1.0001 * 2 * absmax) / qrangeInt32;
    const candidate = inputScale * out[i]!;
    if (candidate > 0 && candidate < smallest) {
      out[i] = f32(out[i]! * (smallest / candidate));
      // float32 rounding can land a hair below: nudge up until the product is valid.
      while (inputScale * out[i]! < smallest) out[i] = f32(out[i]! * (1 + 2 ** -20));
      changed = true;
    }
  };
  if (weightScale.length === 1) {
    let m = 0;
    for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]!));
    fix(0, m);
  }
  else for (let i = 0; i < out.length; i++) fix(i, Math.abs(x[i] ?? 0));
  return changed ? out : undefined;
}

/** The float values of a float32/float64 tensor. */
export function floatData(t: Tensor): Float32Array | Float64Array {
  if (t.dtype === 'float32') return t.data as Float32Array;
  if (t.dtype === 'float64') return t.data as Float64Array;
  return Float32Array.from(t.toNumbers());
}

/** Dequantizes a quantized weight back to float (for error measurements and tests). */
export function dequantizeWeight(w: QuantizedWeight): Float32Array {
  const { q, params } = w;
  const dims = q.dims;
  const data = q.data as Int8Array | Uint8Array;
  const axis = params.axis;
  const channels = params.scale.length;
  const inner = axis === undefined ? data.length : dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const c = channels === 1 ? 0 : Math.floor(i / inner) % channels;
    out[i] = (data[i]! - params.zeroPoint[c]!) * params.scale[c]!;
  }
  return out;
}

/** Scale tensor (float32, scalar or 1-D) for a QParams. */
export function scaleTensor(p: QParams): Tensor {
  return p.axis === undefined ? Tensor.f32([], [p.scale[0]!]) : Tensor.f32([p.scale.length], p.scale);
}

/** Zero-point tensor (int8/uint8, scalar or 1-D) for a QParams. */
export function zeroPointTensor(p: QParams): Tensor {
  const dims = p.axis === undefined ? [] : [p.zeroPoint.length];
  const data = p.qtype === 'int8' ? Int8Array.from(p.zeroPoint) : Uint8Array.from(p.zeroPoint);
  return new Tensor(p.qtype, dims, data);
}
