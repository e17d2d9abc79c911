/**
 * Named model presets for the CLI: `mlp:H1,H2,…` (ReLU hidden layers), `lenet300` (= mlp:300,100) and
 * `cnn` (a small BatchNorm conv net for 28×28 single-channel digits). Each starts with a `Normalize`
 * layer so exported image models take raw [0, 1] pixels.
 */
import { TrainferError } from '../util/errors.js';
import type { Layer } from './layer.js';
import { Flatten, Linear, Normalize, ReLU } from './layers-dense.js';
import { BatchNorm, Conv2d, MaxPool2d } from './layers-conv.js';
import { type InputKind, Network } from './network.js';

/** Options for `buildPreset`. */
export interface PresetOptions {
  /** `mlp:256`, `mlp:512,256`, `lenet300`, `cnn`. */
  spec: string;
  /** Per-sample input shape. */
  inputShape: readonly number[];
  numClasses: number;
  /** Standardisation put in front (per channel for images, per feature for tables). */
  normalize?: { mean: readonly number[]; std: readonly number[] };
  inputKind?: InputKind;
  seed?: number;
  classNames?: readonly string[];
}

/** Preset names for help texts. */
export const PRESET_NAMES = ['mlp:H1,H2,…', 'lenet300', 'cnn'] as const;

/** True when `spec` names a preset (rather than a file). */
export function isPreset(spec: string): boolean {
  return spec === 'lenet300' || spec === 'cnn' || spec.startsWith('mlp:') || spec === 'mlp';
}

/**
 * Builds a preset network.
 *
 * @example
 * const net = buildPreset({ spec: 'mlp:256', inputShape: [1, 28, 28], numClasses: 10, seed: 1 });
 */
export function buildPreset(o: PresetOptions): Network {
  const layers: Layer[] = [];
  if (o.normalize) layers.push(new Normalize(o.normalize));
  const spec = o.spec === 'lenet300' ? 'mlp:300,100' : o.spec;
  let name: string;
  if (spec.startsWith('mlp:') || spec === 'mlp') {
    const hidden = spec === 'mlp' ? [] : spec.slice(4).split(',').filter((s) => s.trim() !== '').map((s) => Number(s));
    if (hidden.some((h) => !Number.isInteger(h) || h <= 0)) throw new TrainferError(`--model ${o.spec}: hidden sizes must be positive integers, e.g. mlp:256 or mlp:512,256`);
    if (o.inputShape.length > 1) layers.push(new Flatten());
    for (const h of hidden) layers.push(new Linear({ outFeatures: h }), ReLU());
    layers.push(new Linear({ outFeatures: o.numClasses }));
    name = o.spec === 'lenet300' ? 'lenet300' : `mlp_${hidden.join('_') || 'linear'}`;
  } else if (spec === 'cnn') {
    if (o.inputShape.length !== 3) throw new TrainferError(`--model cnn needs image data [C, H, W]; this data has samples of shape [${o.inputShape.join(', ')}]`);
    layers.push(...cnnLayers(o.numClasses));
    name = 'cnn';
  } else {
    throw new TrainferError(`unknown model preset '${o.spec}' (expected mlp:H1,H2,…, lenet300, cnn, or an .onnx file)`);
  }
  return new Network({ layers, inputShape: o.inputShape, inputKind: o.inputKind, seed: o.seed, name, classNames: o.classNames });
}

/**
 * The `cnn` preset, shaped for int8 deployment: a stride-2 3×3 stem, then two 3×3 conv blocks whose 32-
 * and 64-channel inputs are wide enough for ORT's int8 kernels, BatchNorm throughout, and a linear head.
 * [1, 28, 28] → conv 32 /2 → [32, 14, 14] → conv 64 → pool → [64, 7, 7] → conv 128 → pool → [128, 3, 3] → classes.
 * 7.3 M multiply-adds per image; nearly all of them in the two int8-friendly convs (docs/training.md).
 */
function cnnLayers(numClasses: number): Layer[] {
  return [
    new Conv2d({ outChannels: 32, kernelSize: 3, stride: 2, padding: 'same', bias: false }),
    new BatchNorm(),
    ReLU(),
    new Conv2d({ outChannels: 64, kernelSize: 3, padding: 'same', bias: false }),
    new BatchNorm(),
    ReLU(),
    MaxPool2d({ kernelSize: 2 }),
    new Conv2d({ outChannels: 128, kernelSize: 3, padding: 'same', bias: false }),
    new BatchNorm(),
    ReLU(),
    MaxPool2d({ kernelSize: 2 }),
    new Flatten(),
    new Linear({ outFeatures: numClasses }),
  ];
}
