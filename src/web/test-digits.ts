/**
 * Test helper (not public API): the MNIST models the project trains today, made small and fast for the
 * browser tests (mlp:64 and the cnn preset, a few hundred Adam steps, each also in int8), and real MNIST
 * test digits turned into pen strokes — one stroke along each run of inked pixels in a row — so a test
 * can draw a digit with mouse events as a person would trace it. `pickDrawableDigit` chooses a digit
 * every model gets right with margin both as MNIST has it and as re-drawn from its strokes.
 */
import { join } from 'node:path';
import { type Dataset, tableFromDataset, take } from '../data/dataset.js';
import { loadData } from '../data/load.js';
import type { Model } from '../onnx/ir.js';
import { writeModel } from '../onnx/model-io.js';
import { Tensor } from '../onnx/tensor.js';
import { quantize } from '../compress/quantize/quantize.js';
import { Session } from '../runtime/session.js';
import { fit } from '../train/fit.js';
import { buildModel } from '../train/job.js';
import { toMnistInput } from './mnist-input.js';

/** A pen stroke in canvas pixels. */
export interface Stroke {
  from: [number, number];
  to: [number, number];
}

/** The drawing pad's size and brush (web/src/draw-pad.ts: width / 14). */
export const PAD_SIZE = 280;
export const PAD_BRUSH = PAD_SIZE / 14;

/** Trained models written into `dir`: file names by role. */
export interface DigitModels {
  files: { mlp: string; mlpInt8: string; cnn: string; cnnInt8: string };
  models: Record<'mlp' | 'mlp-int8' | 'cnn' | 'cnn-int8', Model>;
  test: Dataset;
}

/**
 * Trains mlp:64 (600 steps of 64) and cnn (80 steps of 32) on MNIST with Adam, seed 1, and writes them
 * with their int8 forms (mlp dynamic, cnn static QDQ calibrated on 128 training images) into `dir`.
 * ~3–4 s on two cores; test accuracy ≈ 93% for both.
 */
export async function trainDigitModels(dir: string): Promise<DigitModels> {
  const splits = loadData({ source: 'mnist' });
  const trained: Model[] = [];
  for (const [spec, steps, batchSize] of [['mlp:64', 600, 64], ['cnn', 80, 32]] as const) {
    const train = tableFromDataset(splits.train);
    const net = buildModel({ model: spec }, train, 1);
    const r = await fit({ model: net, train, epochs: 1, batchSize, maxSteps: steps, optimizer: { type: 'adam' }, lr: 0.003, progress: 'none', seed: 1 });
    trained.push(net.inferenceGraph({ weights: r.weights }));
  }
  const [mlp, cnn] = trained as [Model, Model];
  const calib = take(splits.train, 128);
  const x = new Tensor('float32', [128, 1, 28, 28], Float32Array.from(calib.x, (v) => v * calib.scale));
  const inputName = cnn.graph.inputs[0]!.name;
  const mlpInt8 = (await quantize({ model: mlp, mode: 'dynamic' })).model;
  const cnnInt8 = (await quantize({ model: cnn, mode: 'static', calibration: () => [{ [inputName]: x }], autotune: false })).model;
  const files = { mlp: join(dir, 'mlp.onnx'), mlpInt8: join(dir, 'mlp-int8.onnx'), cnn: join(dir, 'cnn.onnx'), cnnInt8: join(dir, 'cnn-int8.onnx') };
  writeModel(files.mlp, mlp);
  writeModel(files.mlpInt8, mlpInt8);
  writeModel(files.cnn, cnn);
  writeModel(files.cnnInt8, cnnInt8);
  return { files, models: { mlp, 'mlp-int8': mlpInt8, cnn, 'cnn-int8': cnnInt8 }, test: splits.test };
}

/** MNIST sample `i` as 784 floats in [0, 1]. */
export function digitPixels(d: Dataset, i: number): Float32Array {
  return Float32Array.from(d.x.subarray(i * 784, (i + 1) * 784), (v) => v * d.scale);
}

/**
 * Pen strokes tracing a 28×28 digit on the 280×280 pad: for each row, one stroke from the centre of the
 * first to the centre of the last pixel of every run of pixels above `threshold` (default 0.5).
 */
export function digitStrokes(pixels: ArrayLike<number>, threshold = 0.5): Stroke[] {
  const cell = PAD_SIZE / 28;
  const strokes: Stroke[] = [];
  for (let y = 0; y < 28; y++) {
    let start = -1;
    for (let x = 0; x <= 28; x++) {
      const on = x < 28 && pixels[y * 28 + x]! > threshold;
      if (on && start < 0) start = x;
      if (!on && start >= 0) {
        strokes.push({ from: [(start + 0.5) * cell, (y + 0.5) * cell], to: [(x - 0.5) * cell, (y + 0.5) * cell] });
        start = -1;
      }
    }
  }
  return strokes;
}

/** What the pad holds after `strokes` (round brush of `PAD_BRUSH`, no anti-aliasing): ink per pixel. */
export function rasterizeStrokes(strokes: readonly Stroke[]): Float32Array {
  const ink = new Float32Array(PAD_SIZE * PAD_SIZE);
  const r = PAD_BRUSH / 2;
  for (const s of strokes) {
    const [ax, ay] = s.from;
    const [bx, by] = s.to;
    for (let py = Math.floor(Math.min(ay, by) - r); py <= Math.ceil(Math.max(ay, by) + r); py++) {
      for (let px = Math.floor(Math.min(ax, bx) - r); px <= Math.ceil(Math.max(ax, bx) + r); px++) {
        if (px < 0 || py < 0 || px >= PAD_SIZE || py >= PAD_SIZE) continue;
        if (segmentDistance(px + 0.5, py + 0.5, ax, ay, bx, by) <= r) ink[py * PAD_SIZE + px] = 1;
      }
    }
  }
  return ink;
}

function segmentDistance(px: number, py: number, ax: number, ay: number, bx: number, by: number): number {
  const dx = bx - ax;
  const dy = by - ay;
  const len2 = dx * dx + dy * dy;
  const t = len2 === 0 ? 0 : Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / len2));
  return Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
}

/** A test digit to draw: its index, label, pixels and strokes. */
export interface DrawableDigit {
  index: number;
  label: number;
  pixels: Float32Array;
  strokes: Stroke[];
  /** What the page's preprocessing makes of the strokes (no anti-aliasing): the input the page should feed. */
  redrawn: Float32Array;
}

/**
 * The first test digit (among the first `candidates`) that every model classifies correctly with
 * probability ≥ `minProbability` both as MNIST has it and as re-drawn from its strokes and passed
 * through the page's preprocessing (`toMnistInput`) — so the browser test does not hinge on a
 * borderline digit.
 */
export async function pickDrawableDigit(o: { models: Model[]; test: Dataset; candidates?: number; minProbability?: number }): Promise<DrawableDigit> {
  const n = Math.min(o.candidates ?? 100, o.test.count);
  const minP = o.minProbability ?? 0.95;
  const originals = new Float32Array(n * 784);
  const redrawn = new Float32Array(n * 784);
  for (let i = 0; i < n; i++) {
    const px = digitPixels(o.test, i);
    originals.set(px, i * 784);
    redrawn.set(toMnistInput({ ink: rasterizeStrokes(digitStrokes(px)), width: PAD_SIZE, height: PAD_SIZE }) ?? new Float32Array(784), i * 784);
  }
  const ok = new Array<boolean>(n).fill(true);
  for (const model of o.models) {
    const s = await Session.create({ model }, { intraOpThreads: 1 });
    try {
      for (const batch of [originals, redrawn]) {
        const out = Object.values(await s.run({ [s.inputNames[0]!]: new Tensor('float32', [n, 1, 28, 28], batch) }))[0]!;
        const logits = out.data as Float32Array;
        for (let i = 0; i < n; i++) {
          const p = softmax(logits.subarray(i * 10, i * 10 + 10));
          if (!(p[o.test.y[i]!]! >= minP)) ok[i] = false;
        }
      }
    } finally {
      await s.release();
    }
  }
  const index = ok.indexOf(true);
  if (index < 0) throw new Error(`no test digit among the first ${n} that every model gets right with p ≥ ${minP}`);
  const pixels = digitPixels(o.test, index);
  return { index, label: o.test.y[index]!, pixels, strokes: digitStrokes(pixels), redrawn: redrawn.slice(index * 784, (index + 1) * 784) };
}

/** Softmax of a score vector. */
export function softmax(v: ArrayLike<number>): number[] {
  const m = Math.max(...Array.from(v));
  const e = Array.from(v, (x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}
