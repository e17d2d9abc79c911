/**
 * A drawing → the 28×28 image an MNIST model expects, the way the MNIST digits themselves were made:
 * crop to the ink's bounding box, scale it (keeping its aspect ratio, area-averaging) to fit a 20×20
 * box, and place it in a 28×28 field so that its centre of mass sits at the centre. Pure arithmetic on
 * arrays (no DOM, no Node): the page calls it on canvas pixels, and the tests on MNIST digits.
 */

/** Options for `toMnistInput`. */
export interface MnistInputOptions {
  /** Ink per pixel in [0, 1], row-major, `width × height`. */
  ink: ArrayLike<number>;
  width: number;
  height: number;
  /** Ink below this does not count for the bounding box (default 0.05). */
  threshold?: number;
}

/** Side of the box the digit is scaled into, and of the output image (as in MNIST). */
export const MNIST_BOX = 20;
export const MNIST_SIDE = 28;

/**
 * Returns 784 values in [0, 1] (row-major 28×28), or `undefined` when there is no ink.
 *
 * @example
 * const x = toMnistInput({ ink: gray, width: 280, height: 280 }); // Float32Array(784)
 */
export function toMnistInput(o: MnistInputOptions): Float32Array | undefined {
  const box = inkBox(o);
  if (!box) return undefined;
  const bw = box.x1 - box.x0;
  const bh = box.y1 - box.y0;
  const scale = MNIST_BOX / Math.max(bw, bh);
  const w = Math.max(1, Math.round(bw * scale));
  const h = Math.max(1, Math.round(bh * scale));
  const small = resampleArea(o, box, w, h);
  // Place by centre of mass (MNIST's rule), then clamp so the digit stays inside the 28×28 field.
  let m = 0;
  let cx = 0;
  let cy = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = small[y * w + x]!;
      m += v;
      cx += v * (x + 0.5);
      cy += v * (y + 0.5);
    }
  }
  const ox = clamp(Math.round(MNIST_SIDE / 2 - cx / m), 0, MNIST_SIDE - w);
  const oy = clamp(Math.round(MNIST_SIDE / 2 - cy / m), 0, MNIST_SIDE - h);
  const out = new Float32Array(MNIST_SIDE * MNIST_SIDE);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[(y + oy) * MNIST_SIDE + x + ox] = small[y * w + x]!;
  return out;
}

interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** The smallest box holding every pixel above the threshold (exclusive end), or `undefined`. */
function inkBox(o: MnistInputOptions): Box | undefined {
  const t = o.threshold ?? 0.05;
  let x0 = o.width;
  let y0 = o.height;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < o.height; y++) {
    for (let x = 0; x < o.width; x++) {
      if (o.ink[y * o.width + x]! <= t) continue;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  return x1 < 0 ? undefined : { x0, y0, x1: x1 + 1, y1: y1 + 1 };
}

/**
 * Area-average resampling of `box` to `w × h`: each output pixel is the mean ink over the source
 * rectangle it covers (fractional edges weighted), so thin strokes keep their total ink.
 */
function resampleArea(o: MnistInputOptions, box: Box, w: number, h: number): Float32Array {
  const sx = (box.x1 - box.x0) / w;
  const sy = (box.y1 - box.y0) / h;
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    const fy0 = box.y0 + y * sy;
    const fy1 = fy0 + sy;
    for (let x = 0; x < w; x++) {
      const fx0 = box.x0 + x * sx;
      const fx1 = fx0 + sx;
      let sum = 0;
      for (let py = Math.floor(fy0); py < Math.ceil(fy1); py++) {
        const wy = Math.min(fy1, py + 1) - Math.max(fy0, py);
        for (let px = Math.floor(fx0); px < Math.ceil(fx1); px++) {
          const wx = Math.min(fx1, px + 1) - Math.max(fx0, px);
          sum += wx * wy * o.ink[py * o.width + px]!;
        }
      }
      out[y * w + x] = Math.min(1, sum / (sx * sy));
    }
  }
  return out;
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}
