/**
 * Models in the page: fetch the manifest the server wrote from its models directory, download each
 * runnable model, create its onnxruntime-web session, and time every `run`.
 */
import type * as Ort from 'onnxruntime-web';
import type { ManifestModel, ModelManifest } from '../../src/web/manifest.js';
import { type Runtime, createSession } from './runtime.js';

/** A model with its session. */
export interface LoadedModel {
  entry: ManifestModel;
  session: Ort.InferenceSession;
  /** Download + session creation, ms. */
  loadMs: number;
}

/** A run's first output and how long `session.run` took. */
export interface TimedOutput {
  output: Ort.Tensor;
  ms: number;
}

/** Fetches `models/index.json` (relative to the page). */
export async function fetchManifest(): Promise<ModelManifest> {
  const r = await fetch('models/index.json', { cache: 'no-store' });
  if (!r.ok) throw new Error(`models/index.json: HTTP ${r.status}`);
  return (await r.json()) as ModelManifest;
}

/** Downloads a model and creates its session. */
export async function loadModel(rt: Runtime, entry: ManifestModel): Promise<LoadedModel> {
  const t0 = performance.now();
  const r = await fetch(entry.url);
  if (!r.ok) throw new Error(`${entry.url}: HTTP ${r.status}`);
  const bytes = new Uint8Array(await r.arrayBuffer());
  const session = await createSession(rt, bytes);
  return { entry, session, loadMs: performance.now() - t0 };
}

let queue: Promise<unknown> = Promise.resolve();

/**
 * Runs the model once and times `session.run` alone (performance.now: 5 µs resolution when cross-origin
 * isolated, else 100 µs). Runs are queued one at a time across all models: the drawing pad and the
 * benchmark never overlap, so neither's timing includes the other's work.
 */
export function runTimed(m: LoadedModel, feeds: Record<string, Ort.Tensor>): Promise<TimedOutput> {
  const run = async (): Promise<TimedOutput> => {
    const t0 = performance.now();
    const out = await m.session.run(feeds);
    const ms = performance.now() - t0;
    const output = out[m.session.outputNames[0]!];
    if (!output) throw new Error(`${m.entry.name}: no output`);
    return { output, ms };
  };
  const next = queue.then(run, run);
  queue = next.catch(() => undefined);
  return next;
}

/** The input's shape for one sample: symbolic or unknown dims become 1 (the batch). */
export function batchOneShape(entry: ManifestModel): number[] {
  return entry.input.shape.map((d) => (typeof d === 'number' && d > 0 ? d : 1));
}

/** Class probabilities from a model's first output, by what the manifest says it holds. */
export function probabilities(entry: ManifestModel, scores: ArrayLike<number>): number[] {
  const v = Array.from(scores);
  if (entry.scores === 'probabilities') return v;
  if (entry.scores === 'log-probabilities') return v.map(Math.exp);
  return softmax(v);
}

/** Softmax of a score vector (stable). */
export function softmax(scores: ArrayLike<number>): number[] {
  let max = -Infinity;
  for (let i = 0; i < scores.length; i++) max = Math.max(max, scores[i]!);
  const e = Array.from({ length: scores.length }, (_, i) => Math.exp(scores[i]! - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}
