/**
 * The contract between `trainfer ui` (which scans a models directory) and the browser page (which lists
 * what it finds): `GET /models/index.json` answers a `ModelManifest`. Plain types only — this file is
 * imported by the page's bundle as well as by Node code, so it must not import anything.
 *
 * The page picks a panel per `kind` (see web/src/panels.ts): a new kind of model is a new value here, a
 * catalog rule that recognises it, and one panel in the page.
 */

/**
 * What the page can do with a model.
 * - `digits`: one float input of 28×28 pixels in [0, 1] (`[N, 1, 28, 28]`, `[N, 28, 28]` or `[N, 784]`),
 *   one output of 10 scores: drawn on the canvas.
 * - `text`: a directory with `model.onnx` and a Hugging Face `tokenizer.json` beside it: a text box.
 * - `other`: listed with `reason`, not run.
 */
export type ModelKind = 'digits' | 'text' | 'other';

/** Numeric precision of a model's heavy ops, read from its op types. */
export type ModelPrecision = 'fp32' | 'fp16' | 'int8' | 'int4';

/** One model the page can fetch. */
export interface ManifestModel {
  /** Display name: the file's path under the models directory, without `.onnx` (`mnist/1/model` → `mnist/1`). */
  name: string;
  kind: ModelKind;
  precision: ModelPrecision;
  /** URL of the `.onnx` file, relative to the page. */
  url: string;
  /** Size of the `.onnx` file in bytes (what the page downloads, before HTTP compression). */
  bytes: number;
  /** SHA-256 of the file (hex), to tell identical files apart from same-named ones. */
  sha256: string;
  /** The first graph input (initializers excluded). */
  input: ManifestTensor;
  /** Every graph input (a text model may take ids, an attention mask and token type ids). */
  inputs: ManifestTensor[];
  output: ManifestTensor;
  /** What the first output holds, from the op that produces it: Softmax → probabilities, LogSoftmax → log-probabilities, else logits. */
  scores: 'logits' | 'probabilities' | 'log-probabilities';
  /** Class names from the model's metadata (`trainfer.class_names`), or `'0'…'9'` for digits. */
  classes: string[];
  /** `text` models: URL of `tokenizer.json`. */
  tokenizerUrl?: string;
  /** Why the page does not run it (`kind: 'other'`). */
  reason?: string;
}

/** An input or output: name, element type and shape (symbolic dims as strings, unknown as null). */
export interface ManifestTensor {
  name: string;
  dtype: string;
  shape: (number | string | null)[];
}

/** `GET /models/index.json`. */
export interface ModelManifest {
  models: ManifestModel[];
  /** URL of the latest lab report when the server has one. */
  labReport?: string;
  /** When the directory was scanned (ISO 8601). */
  scannedAt: string;
}
