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
  const { channels: C, height: H, width: W } = l;
  const plane = H * W;
  const cx = (W - 1) / 2;
  const cy = (H - 1) / 2;
  const cos = Math.cos(t.angle);
  const sin = Math.sin(t.angle);
  const exact = t.angle === 0;
  for (let c = 0; c < C; c++) {
    const mul = l.mul[c]!;
    const add = l.add[c]!;
    const s0 = from + c * plane;
    const d0 = to + c * plane;
    for (let y = 0; y < H; y++) {
      // Inverse map: undo the shift, then the rotation (about the centre), then the flip.
      const v = y - t.dy - cy;
      for (let x = 0; x < W; x++) {
        const u = x - t.dx - cx;
        let sx = cos * u + sin * v + cx;
        const sy = -sin * u + cos * v + cy;
        if (t.flip) sx = W - 1 - sx;
        let value = 0;
        if (exact) {
          const ix = Math.round(sx);
          const iy = Math.round(sy);
          if (ix >= 0 && ix < W && iy >= 0 && iy < H) value = src[s0 + iy * W + ix]!;
        } else {
          const x0 = Math.floor(sx);
          const y0 = Math.floor(sy);
          const fx = sx - x0;
          const fy = sy - y0;
          const at = (xx: number, yy: number): number => (xx >= 0 && xx < W && yy >= 0 && yy < H ? src[s0 + yy * W + xx]! : 0);
          value = (at(x0, y0) * (1 - fx) + at(x0 + 1, y0) * fx) * (1 - fy) + (at(x0, y0 + 1) * (1 - fx) + at(x0 + 1, y0 + 1) * fx) * fy;
        }
        dst[d0 + y * W + x] = value * mul + add;
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
