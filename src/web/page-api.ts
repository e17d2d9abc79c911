/**
 * What the browser page exposes to scripts as `window.trainfer` (see web/src/main.ts), and what the
 * in-page benchmark returns: the contract between the page and whatever drives it (the Playwright
 * tests, `trainfer ui --bench`, `trainfer bench --browser`). Plain types only, shared by both sides.
 */
import type { LatencySummary } from './latency-stats.js';
import type { ModelKind, ModelPrecision } from './manifest.js';

/** How the page runs models in this browser. */
export interface BackendInfo {
  /** The onnxruntime-web execution provider the sessions ask for first. */
  provider: 'wasm' | 'webgpu';
  /** WebAssembly SIMD works here (onnxruntime-web 1.30 ships only SIMD builds). */
  simd: boolean;
  /** WASM threads in use: more than 1 only when the page is cross-origin isolated (COOP/COEP). */
  threads: number;
  crossOriginIsolated: boolean;
  /** `navigator.gpu` gave an adapter. */
  webgpu: boolean;
  /** One line for people, e.g. `WASM SIMD, 2 threads (cross-origin isolated)`. */
  label: string;
}

/** One model as the page holds it. */
export interface PageModel {
  name: string;
  kind: ModelKind;
  precision: ModelPrecision;
  /** Bytes of the `.onnx` file. */
  bytes: number;
  /** `loaded`, or why not (`error: …`), or `not run: …` for kinds without a panel. */
  status: string;
  /** Fetch + session creation, ms. */
  loadMs?: number;
}

/** The page's state for drivers: what is loaded and the last prediction per model. */
export interface PageState {
  ready: boolean;
  backend?: BackendInfo;
  models: PageModel[];
  /** The last 28×28 input fed to the digit models (784 values in [0, 1]), if any. */
  digitInput?: number[];
  /** Last prediction per model name. */
  predictions: Record<string, PagePrediction>;
  /** Console-worthy failures the page caught and showed. */
  errors: string[];
}

/** A model's last answer. */
export interface PagePrediction {
  label: string;
  /** Probability of `label`. */
  probability: number;
  /** Every class's probability, in the model's class order. */
  probabilities: number[];
  /** Time of that `session.run`, ms. */
  latencyMs: number;
}

/** Options for `window.trainfer.benchmark`. */
export interface PageBenchOptions {
  /** Timed inferences per model (default 200). */
  iterations?: number;
  /** Untimed runs first (default 10). */
  warmup?: number;
  /** Only these model names (default: every loaded model the page can run). */
  models?: string[];
}

/** One model's in-browser benchmark: batch 1, `iterations` sequential `session.run` calls. */
export interface BrowserModelBench extends LatencySummary {
  name: string;
  kind: ModelKind;
  precision: ModelPrecision;
  bytes: number;
  /** Fetch + session creation, ms. */
  loadMs: number;
  warmup: number;
  /** The feeds' dtypes and dims, so another runtime can be timed on the same shapes. */
  inputs: Record<string, { dtype: string; dims: number[] }>;
}

/** What `window.trainfer.benchmark` resolves to. */
export interface BrowserBenchReport {
  backend: BackendInfo;
  userAgent: string;
  hardwareConcurrency: number;
  models: BrowserModelBench[];
}

/** `window.trainfer`. */
export interface PageApi {
  state(): PageState;
  /** Resolves, with the state, once every prediction the page has started is done. */
  settle(): Promise<PageState>;
  benchmark(options?: PageBenchOptions): Promise<BrowserBenchReport>;
}
