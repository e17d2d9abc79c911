/**
 * One panel per model kind, in one static table: the digits canvas and the text box. A new kind is one
 * more entry here (a `<kind>-panel.ts` exporting a `PanelFactory`) and a rule in src/web/catalog.ts.
 * A kind without a panel is listed under "other models" and not run.
 */
import type * as Ort from 'onnxruntime-web';
import type { ModelKind } from '../../src/web/manifest.js';
import type { PagePrediction } from '../../src/web/page-api.js';
import { digitsPanel } from './digits-panel.js';
import type { LoadedModel } from './models.js';
import type { Runtime } from './runtime.js';

/** What a panel gets from the page. */
export interface PanelContext {
  rt: Runtime;
  /** Reports a model's latest answer (shown, and exposed to drivers through `window.trainfer.state()`). */
  onPrediction(model: string, p: PagePrediction): void;
  /** Reports the input the panel fed (e.g. the 28×28 digit), for drivers. */
  onInput(kind: ModelKind, values: number[]): void;
  onError(message: string): void;
}

/** A panel holding the loaded models of one kind. */
export interface Panel {
  /** Feeds for one benchmark inference of `model` (the panel's current input, or a fixed sample). */
  benchFeeds(model: LoadedModel): Record<string, Ort.Tensor>;
  /** Resolves when the panel's pending predictions are done. */
  idle(): Promise<void>;
}

/** Builds the panel for `models` (all of one kind) inside the page. */
export type PanelFactory = (ctx: PanelContext, models: LoadedModel[]) => Panel | Promise<Panel>;

/** The panel for each kind the page can run. The text panel (and its tokenizer library) loads only when a text model exists. */
export const PANELS: Partial<Record<ModelKind, PanelFactory>> = {
  digits: digitsPanel,
  text: async (ctx, models) => (await import('./text-panel.js')).textPanel(ctx, models),
};
