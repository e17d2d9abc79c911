/**
 * Image augmentation: the spec (`shift=2,rotate=10,flip`), its parser, the per-sample random draw and
 * the pixel kernel. One sample's transform is a horizontal flip, then a rotation about the image centre,
 * then a translation (a random shift is the same as padding by `shift` pixels and cropping at a random
 * offset), applied as one inverse map with bilinear sampling and zeros outside the image; with no
 * rotation every source coordinate is an integer, so shifted/flipped pixels are copied exactly. Values
 * are standardised in the same pass (byte × mul + add, what the batcher does without augmentation).
 *
 * Randomness is counter-based: the draws of batch `b` come from a generator seeded by the epoch's key
 * and `b` alone, so a batch is the same whichever thread makes it, in whatever order, and a resumed run
 * (which restores the epoch's shuffle state and the batch index from its checkpoint) replays it exactly.
 */
import { TrainferError } from '../util/errors.js';
import { Rng, type RngState } from '../util/rng.js';

/** What to do to each training image. Every field off by default. */
export interface AugmentSpec {
  /** Random translation of up to ± this many pixels on each axis (integers; pad-and-crop). */
  shift?: number;
  /** Random rotation of up to ± this many degrees. */
  rotate?: number;
  /** Mirror left-right with probability 1/2 (not for digits or text). */
  flip?: boolean;
}

/** The random parameters of one sample's transform. */
export interface SampleTransform {
  dx: number;
  dy: number;
  /** Radians. */
  angle: number;
  flip: boolean;
}

/** Geometry and value map of the images a kernel transforms. */
export interface ImageLayout {
  channels: number;
  height: number;
  width: number;
  /** Per channel: out = value × mul + add. */
  mul: Float32Array;
  add: Float32Array;
}

/**
 * Parses `shift=2,rotate=10,flip` (also `crop=2` for `shift`, `hflip` for `flip`). An empty string or
 * `default` is `shift=2,rotate=10`.
 */
export function parseAugment(text: string): AugmentSpec {
  const t = text.trim();
  if (t === '' || t === 'default' || t === 'true') return { shift: 2, rotate: 10 };
  const spec: AugmentSpec = {};
  for (const part of t.split(',').map((s) => s.trim()).filter((s) => s)) {
    const [k, v] = part.split('=').map((s) => s.trim()) as [string, string | undefined];
    const num = (max: number): number => {
      const x = Number(v);
      if (v === undefined || !Number.isFinite(x) || x < 0 || x > max) throw new TrainferError(`--augment ${part}: expected ${k}=<number from 0 to ${max}>`);
      return x;
    };
    if (k === 'shift' || k === 'crop') {
      const x = num(64);
      if (!Number.isInteger(x)) throw new TrainferError(`--augment ${part}: the shift is a whole number of pixels`);
      spec.shift = x;
    } else if (k === 'rotate') spec.rotate = num(180);
    else if (k === 'flip' || k === 'hflip') {
      if (v !== undefined && v !== 'true' && v !== 'false') throw new TrainferError(`--augment ${part}: flip takes no value (or true/false)`);
      spec.flip = v !== 'false';
    } else throw new TrainferError(`--augment: unknown transform '${k}' (expected shift=N, crop=N, rotate=DEG, flip)`);
  }
  return spec;
}

/** `shift=2,rotate=10` — the canonical text of a spec (for fingerprints and messages). */
export function formatAugment(s: AugmentSpec): string {
  return [s.shift ? `shift=${s.shift}` : '', s.rotate ? `rotate=${s.rotate}` : '', s.flip ? 'flip' : ''].filter((x) => x).join(',') || 'none';
}

/** The key of an epoch's augmentation draws: a hash of the epoch's shuffle state and the seed. */
export function epochKey(shuffleState: RngState, seed: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (const w of shuffleState) h = Math.imul(h ^ w, 0x85ebca6b) ^ (h >>> 13);
  return h >>> 0;
}

/** Draws the transforms of batch `b` (one per sample, in batch order) into `out`. */
export function drawTransforms(spec: AugmentSpec, key: number, b: number, out: SampleTransform[]): void {
  const rng = Rng.fromSeed((key ^ Math.imul(b + 1, 0x27d4eb2d)) >>> 0);
  const s = spec.shift ?? 0;
  const r = ((spec.rotate ?? 0) * Math.PI) / 180;
  for (const t of out) {
    t.dx = s ? Math.floor(rng.uniform() * (2 * s + 1)) - s : 0;
    t.dy = s ? Math.floor(rng.uniform() * (2 * s + 1)) - s : 0;
    t.angle = r ? (rng.uniform() * 2 - 1) * r : 0;
    t.flip = spec.flip ? rng.uniform() < 0.5 : false;
  }
}

/** `n` blank transforms to draw into. */
export function transformSlots(n: number): SampleTransform[] {
  return Array.from({ length: n }, () => ({ dx: 0, dy: 0, angle: 0, flip: false }));
}

/**
 * Writes one transformed, standardised sample: `src` holds the sample's raw values at `from`
 * (`channels × height × width`), `dst` receives float32 at `to`.
 */
export function transformSample(src: Uint8Array | Float32Array, from: number, dst: Float32Array, to: number, t: SampleTransform, l: ImageLayout): void {
  if (src instanceof Uint8Array) transformU8(src, from, dst, to, t, l);
  else transformF32(src, from, dst, to, t, l);
}

// Two copies of one kernel, one element type each, so V8 keeps each monomorphic. Per output row the
// source coordinates advance by (cos, −sin) per pixel; interior pixels read their 4 neighbours without
// bounds checks, border ones with.
function transformU8(src: Uint8Array, from: number, dst: Float32Array, to: number, t: SampleTransform, l: ImageLayout): void {
  const { channels: C, height: H, width: W } = l;
  const plane = H * W;
  const cx = (W - 1) / 2;
  const cy = (H - 1) / 2;
  const cos = t.angle === 0 ? 1 : Math.cos(t.angle);
  const sin = t.angle === 0 ? 0 : Math.sin(t.angle);
  const fl = t.flip ? -1 : 1;
  for (let c = 0; c < C; c++) {
    const mul = l.mul[c]!;
    const add = l.add[c]!;
    const s0 = from + c * plane;
    const d0 = to + c * plane;
    if (t.angle === 0) {
      // Integer shift (and flip): exact copies, zeros outside.
      for (let y = 0; y < H; y++) {
        const sy = y - t.dy;
        const row = d0 + y * W;
        if (sy < 0 || sy >= H) {
          for (let x = 0; x < W; x++) dst[row + x] = add;
          continue;
        }
        const srow = s0 + sy * W;
        for (let x = 0; x < W; x++) {
          const sx0 = x - t.dx;
          const sx = fl === 1 ? sx0 : W - 1 - sx0;
          dst[row + x] = sx >= 0 && sx < W ? src[srow + sx]! * mul + add : add;
        }
      }
      continue;
    }
    for (let y = 0; y < H; y++) {
      // Inverse map: undo the shift, then the rotation (about the centre), then the flip.
      const v = y - t.dy - cy;
      const u0 = -t.dx - cx;
      let sx = cos * u0 + sin * v + cx;
      let sy = -sin * u0 + cos * v + cy;
      const row = d0 + y * W;
      for (let x = 0; x < W; x++, sx += cos, sy -= sin) {
        const px = fl === 1 ? sx : W - 1 - sx;
        const x0 = Math.floor(px);
        const y0 = Math.floor(sy);
        const fx = px - x0;
        const fy = sy - y0;
        let value: number;
        if (x0 >= 0 && y0 >= 0 && x0 + 1 < W && y0 + 1 < H) {
          const i = s0 + y0 * W + x0;
          value = (src[i]! * (1 - fx) + src[i + 1]! * fx) * (1 - fy) + (src[i + W]! * (1 - fx) + src[i + W + 1]! * fx) * fy;
        } else if (x0 < -1 || y0 < -1 || x0 >= W || y0 >= H) value = 0;
        else {
          const i = s0 + y0 * W + x0;
          const inX0 = x0 >= 0, inX1 = x0 + 1 < W, inY0 = y0 >= 0, inY1 = y0 + 1 < H;
          const a = inX0 && inY0 ? src[i]! : 0;
          const b = inX1 && inY0 ? src[i + 1]! : 0;
          const d = inX0 && inY1 ? src[i + W]! : 0;
          const e = inX1 && inY1 ? src[i + W + 1]! : 0;
          value = (a * (1 - fx) + b * fx) * (1 - fy) + (d * (1 - fx) + e * fx) * fy;
        }
        dst[row + x] = value * mul + add;
      }
    }
  }
}

function transformF32(src: Float32Array, from: number, dst: Float32Array, to: number, t: SampleTransform, l: ImageLayout): void {
  const { channels: C, height: H, width: W } = l;
  const plane = H * W;
  const cx = (W - 1) / 2;
  const cy = (H - 1) / 2;
  const cos = t.angle === 0 ? 1 : Math.cos(t.angle);
  const sin = t.angle === 0 ? 0 : Math.sin(t.angle);
  const fl = t.flip ? -1 : 1;
  for (let c = 0; c < C; c++) {
    const mul = l.mul[c]!;
    const add = l.add[c]!;
    const s0 = from + c * plane;
    const d0 = to + c * plane;
    if (t.angle === 0) {
      // Integer shift (and flip): exact copies, zeros outside.
      for (let y = 0; y < H; y++) {
        const sy = y - t.dy;
        const row = d0 + y * W;
        if (sy < 0 || sy >= H) {
          for (let x = 0; x < W; x++) dst[row + x] = add;
          continue;
        }
        const srow = s0 + sy * W;
        for (let x = 0; x < W; x++) {
          const sx0 = x - t.dx;
          const sx = fl === 1 ? sx0 : W - 1 - sx0;
          dst[row + x] = sx >= 0 && sx < W ? src[srow + sx]! * mul + add : add;
        }
      }
      continue;
    }
    for (let y = 0; y < H; y++) {
      // Inverse map: undo the shift, then the rotation (about the centre), then the flip.
      const v = y - t.dy - cy;
      const u0 = -t.dx - cx;
      let sx = cos * u0 + sin * v + cx;
      let sy = -sin * u0 + cos * v + cy;
      const row = d0 + y * W;
      for (let x = 0; x < W; x++, sx += cos, sy -= sin) {
        const px = fl === 1 ? sx : W - 1 - sx;
        const x0 = Math.floor(px);
        const y0 = Math.floor(sy);
        const fx = px - x0;
        const fy = sy - y0;
        let value: number;
        if (x0 >= 0 && y0 >= 0 && x0 + 1 < W && y0 + 1 < H) {
          const i = s0 + y0 * W + x0;
          value = (src[i]! * (1 - fx) + src[i + 1]! * fx) * (1 - fy) + (src[i + W]! * (1 - fx) + src[i + W + 1]! * fx) * fy;
        } else if (x0 < -1 || y0 < -1 || x0 >= W || y0 >= H) value = 0;
        else {
          const i = s0 + y0 * W + x0;
          const inX0 = x0 >= 0, inX1 = x0 + 1 < W, inY0 = y0 >= 0, inY1 = y0 + 1 < H;
          const a = inX0 && inY0 ? src[i]! : 0;
          const b = inX1 && inY0 ? src[i + 1]! : 0;
          const d = inX0 && inY1 ? src[i + W]! : 0;
          const e = inX1 && inY1 ? src[i + W + 1]! : 0;
          value = (a * (1 - fx) + b * fx) * (1 - fy) + (d * (1 - fx) + e * fx) * fy;
        }
        dst[row + x] = value * mul + add;
      }
    }
  }
}

/**
 * Fills `dst` (`n × C·H·W` float32) with the transformed rows `order[start + i]` of `src` for batch `b`
 * of the epoch keyed `key`.
 */
export function augmentBatch(o: { src: Uint8Array | Float32Array; dst: Float32Array; order: ArrayLike<number>; start: number; n: number; b: number; key: number; spec: AugmentSpec; layout: ImageLayout; scratch: SampleTransform[] }): void {
  const size = o.layout.channels * o.layout.height * o.layout.width;
  drawTransforms(o.spec, o.key, o.b, o.scratch);
  for (let i = 0; i < o.n; i++) transformSample(o.src, o.order[o.start + i]! * size, o.dst, i * size, o.scratch[i]!, o.layout);
}
