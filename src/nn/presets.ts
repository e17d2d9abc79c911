/**
 * Named model presets for the CLI: `mlp:H1,H2,…` (ReLU hidden layers), `lenet300` (= mlp:300,100) and
 * `cnn` (a small BatchNorm conv net for 28×28 single-channel digits). Each starts with a `Normalize`
 * layer so exported models take raw values (image models raw [0, 1] pixels). Tabular data with
 * categorical columns gets one int64 input per categorical column, each through its own `Embedding`,
 * concatenated with the standardised numeric features. Regression heads end with a `Rescale` back to the
 * targets' units, so the network learns standardised targets.
 */
import { TrainferError } from '../util/errors.js';
import type { Layer } from './layer.js';
import { Embedding, Flatten, Linear, Normalize, ReLU, Rescale } from './layers-dense.js';
import { BatchNorm, Conv2d, MaxPool2d } from './layers-conv.js';
import type { Task } from './loss.js';
import { type InputKind, Network, type NetworkInput } from './network.js';
import { isTextPreset } from './presets-text.js';

/** A categorical input of a tabular preset. */
export interface CategoricalInput {
  /** Input name (the column's). */
  name: string;
  /** Number of categories; the embedding table gets one row more, for categories not seen in training. */
  categories: number;
}

/** Options for `buildPreset`. */
export interface PresetOptions {
  /** `mlp:256`, `mlp:512,256`, `lenet300`, `cnn`. */
  spec: string;
  /** Per-sample shape of the (numeric) input. */
  inputShape: readonly number[];
  /** Size of the output: classes (classification), labels (multi-label), targets (regression), 1 (binary). */
  numClasses: number;
  /** Standardisation put in front (per channel for images, per feature for tables). */
  normalize?: { mean: readonly number[]; std: readonly number[] };
  inputKind?: InputKind;
  seed?: number;
  classNames?: readonly string[];
  /** Task of the head (default `classification`). */
  task?: Task;
  /** Regression: the targets' mean and std; the head ends with `Rescale(std, mean)`. */
  targetScale?: { mean: readonly number[]; std: readonly number[] };
  /** Tabular: categorical inputs beside the numeric `features` (omit `inputShape`'s features with [0]). */
  categorical?: readonly CategoricalInput[];
}

/** Preset names for help texts. */
export const PRESET_NAMES = ['mlp:H1,H2,…', 'lenet300', 'cnn', 'transformer[:L,D,H]'] as const;

/** True when `spec` names a preset (rather than a file); `transformer` is built by `buildTransformerPreset`. */
export function isPreset(spec: string): boolean {
  return spec === 'lenet300' || spec === 'cnn' || spec.startsWith('mlp:') || spec === 'mlp' || isTextPreset(spec);
}

/** Embedding width for a categorical column: fastai's rule min(600, 1.6·n^0.56), capped at 16 here. */
export function embeddingDim(categories: number): number {
  return Math.max(2, Math.min(16, Math.round(1.6 * categories ** 0.56)));
}

/**
 * Builds a preset network.
 *
 * @example
 * const net = buildPreset({ spec: 'mlp:256', inputShape: [1, 28, 28], numClasses: 10, seed: 1 });
 */
export function buildPreset(o: PresetOptions): Network {
  const spec = o.spec === 'lenet300' ? 'mlp:300,100' : o.spec;
  const task = o.task ?? 'classification';
  const head: Layer[] = [];
  if (o.targetScale) head.push(new Rescale({ scale: o.targetScale.std, shift: o.targetScale.mean }));
  const common = { seed: o.seed, classNames: o.classNames, task };
  if (spec.startsWith('mlp:') || spec === 'mlp') {
    const hidden = spec === 'mlp' ? [] : spec.slice(4).split(',').filter((s) => s.trim() !== '').map((s) => Number(s));
    if (hidden.some((h) => !Number.isInteger(h) || h <= 0)) throw new TrainferError(`--model ${o.spec}: hidden sizes must be positive integers, e.g. mlp:256 or mlp:512,256`);
    const trunk: Layer[] = [];
    for (const h of hidden) trunk.push(new Linear({ outFeatures: h }), new ReLU());
    trunk.push(new Linear({ outFeatures: o.numClasses }), ...head);
    const name = o.spec === 'lenet300' ? 'lenet300' : `mlp_${hidden.join('_') || 'linear'}`;
    const numeric: Layer[] = [];
    if (o.normalize) numeric.push(new Normalize(o.normalize));
    if (o.inputShape.length > 1) numeric.push(new Flatten());
    if (!o.categorical?.length) return new Network({ layers: [...numeric, ...trunk], inputShape: o.inputShape, inputKind: o.inputKind, name, ...common });
    const inputs: NetworkInput[] = [];
    if (o.inputShape.reduce((a, b) => a * b, 1) > 0) inputs.push({ name: 'features', shape: o.inputShape, layers: numeric });
    for (const c of o.categorical) {
      inputs.push({ name: c.name, shape: [1], dtype: 'int64', layers: [new Embedding({ numEmbeddings: c.categories + 1, dim: embeddingDim(c.categories) }), new Flatten()] });
    }
    return new Network({ layers: trunk, inputs, name, ...common });
  }
  if (spec === 'cnn') {
    if (o.inputShape.length !== 3 || o.categorical?.length) throw new TrainferError(`--model cnn needs image data [C, H, W]; this data has samples of shape [${o.inputShape.join(', ')}]${o.categorical?.length ? ' and categorical columns' : ''}`);
    const layers: Layer[] = o.normalize ? [new Normalize(o.normalize)] : [];
    layers.push(...cnnLayers(o.numClasses), ...head);
    return new Network({ layers, inputShape: o.inputShape, inputKind: o.inputKind, name: 'cnn', ...common });
  }
  if (isTextPreset(spec)) throw new TrainferError(`--model ${o.spec} reads text: it needs a text column and a tokenizer (buildTransformerPreset; trainfer train finds both)`);
  throw new TrainferError(`unknown model preset '${o.spec}' (expected mlp:H1,H2,…, lenet300, cnn, transformer[:L,D,H], or an .onnx file)`);
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
    new ReLU(),
    new Conv2d({ outChannels: 64, kernelSize: 3, padding: 'same', bias: false }),
    new BatchNorm(),
    new ReLU(),
    new MaxPool2d({ kernelSize: 2 }),
    new Conv2d({ outChannels: 128, kernelSize: 3, padding: 'same', bias: false }),
    new BatchNorm(),
    new ReLU(),
    new MaxPool2d({ kernelSize: 2 }),
    new Flatten(),
    new Linear({ outFeatures: numClasses }),
  ];
}
