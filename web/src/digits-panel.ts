/**
 * The digits panel: the drawing pad, the 28×28 "what the models see" preview, and one card per digit
 * model (fp32, int8, … side by side) with its prediction, class probabilities, per-inference latency,
 * download size and precision. Every model runs on the same input after each stroke.
 */
import type * as Ort from 'onnxruntime-web';
import { toMnistInput } from '../../src/web/mnist-input.js';
import { DrawPad, paintInput } from './draw-pad.js';
import { formatBytes, formatMs } from './format.js';
import { type LoadedModel, batchOneShape, probabilities, runTimed } from './models.js';
import type { Panel, PanelContext } from './panels.js';

interface Card {
  model: LoadedModel;
  label: HTMLElement;
  prob: HTMLElement;
  bars: HTMLElement[];
  latency: HTMLElement;
}

/** Builds the digits panel in `#digits`. */
export function digitsPanel(ctx: PanelContext, models: LoadedModel[]): Panel {
  const section = byId('digits');
  section.hidden = false;
  const cards = models.map((m) => card(byId('digit-cards'), m));
  const seen = byId('seen') as HTMLCanvasElement;
  let input: Float32Array | undefined;
  let busy: Promise<void> | undefined;
  let again = false;

  const predict = (): Promise<void> => {
    if (busy) {
      again = true;
      return busy;
    }
    busy = predictLoop().finally(() => (busy = undefined));
    return busy;
  };
  // Runs every model on the latest input; a change during the run starts one more pass.
  const predictLoop = async (): Promise<void> => {
    do {
      again = false;
      const x = input;
      for (const c of cards) {
        if (!x) {
          showEmpty(c);
          continue;
        }
        try {
          const { output, ms } = await runTimed(c.model, feeds(c.model, x));
          show(ctx, c, probabilities(c.model.entry, output.data as Float32Array), ms);
        } catch (err) {
          ctx.onError(`${c.model.entry.name}: ${String(err)}`);
        }
      }
    } while (again);
  };

  const pad = new DrawPad({
    canvas: byId('pad') as HTMLCanvasElement,
    onChange: () => {
      input = toMnistInput(pad.ink());
      paintInput(seen, input);
      if (input) ctx.onInput('digits', Array.from(input));
      void predict();
    },
  });
  byId('clear').addEventListener('click', () => {
    pad.clear();
    input = undefined;
    paintInput(seen, undefined);
    void predict();
  });
  paintInput(seen, undefined);

  const feeds = (m: LoadedModel, x: Float32Array): Record<string, Ort.Tensor> => ({
    [m.entry.input.name]: new ctx.rt.ort.Tensor('float32', x, batchOneShape(m.entry)),
  });
  return { benchFeeds: (m) => feeds(m, input ?? new Float32Array(784)), idle: async () => void (await busy) };
}

function card(parent: HTMLElement, m: LoadedModel): Card {
  const el = document.createElement('article');
  el.className = 'card';
  el.dataset.model = m.entry.name;
  el.innerHTML = `<header><b class="name"></b><span class="prec"></span></header>
    <div class="pred"><span class="label">–</span><span class="prob"></span></div>
    <ol class="bars"></ol>
    <p class="meta"><span class="latency">– ms</span> · <span class="size"></span> · <span class="load"></span></p>`;
  q(el, '.name').textContent = m.entry.name.replaceAll('/', '/\u200b');
  q(el, '.prec').textContent = m.entry.precision;
  q(el, '.size').textContent = formatBytes(m.entry.bytes);
  q(el, '.size').title = 'model download size';
  q(el, '.load').textContent = `loaded in ${formatMs(m.loadMs)}`;
  const ol = q(el, '.bars');
  const bars = m.entry.classes.map((name) => {
    const li = document.createElement('li');
    li.innerHTML = '<span class="cls"></span><span class="bar"><span></span></span>';
    q(li, '.cls').textContent = name;
    ol.append(li);
    return q(li, '.bar > span');
  });
  parent.append(el);
  return { model: m, label: q(el, '.label'), prob: q(el, '.prob'), bars, latency: q(el, '.latency') };
}

function show(ctx: PanelContext, c: Card, p: number[], ms: number): void {
  let best = 0;
  p.forEach((v, i) => {
    if (v > p[best]!) best = i;
    const bar = c.bars[i];
    if (bar) bar.style.width = `${(v * 100).toFixed(1)}%`;
  });
  const label = c.model.entry.classes[best] ?? String(best);
  c.label.textContent = label;
  c.prob.textContent = `${(p[best]! * 100).toFixed(1)}%`;
  c.latency.textContent = `${formatMs(ms)} per inference`;
  c.latency.dataset.ms = String(ms);
  ctx.onPrediction(c.model.entry.name, { label, probability: p[best]!, probabilities: p, latencyMs: ms });
}

function showEmpty(c: Card): void {
  c.label.textContent = '–';
  c.prob.textContent = '';
  for (const b of c.bars) b.style.width = '0';
}

function byId(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (!el) throw new Error(`page is missing #${id}`);
  return el;
}

function q(root: Element, sel: string): HTMLElement {
  const el = root.querySelector<HTMLElement>(sel);
  if (!el) throw new Error(`missing ${sel}`);
  return el;
}
