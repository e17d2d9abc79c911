/**
 * The text panel: a text box whose contents every text classifier in the directory (a `model.onnx` with
 * its Hugging Face `tokenizer.json`) classifies as the user types. Tokenization runs in the page with
 * `@huggingface/tokenizers` (pure JS, loads tokenizer.json); its ids feed the model's inputs by name:
 * `*mask*` gets the attention mask, `*type*` token type ids, the rest the token ids. A fixed sequence
 * dimension pads (pad id from tokenizer.json, else 0) and truncates; a symbolic one takes the text's
 * length, truncated to tokenizer.json's `truncation.max_length` (default 512).
 */
import { Tokenizer } from '@huggingface/tokenizers';
import type * as Ort from 'onnxruntime-web';
import type { ManifestModel } from '../../src/web/manifest.js';
import { formatBytes, formatMs } from './format.js';
import { type LoadedModel, probabilities, runTimed } from './models.js';
import type { Panel, PanelContext } from './panels.js';

interface TokenizerJson {
  truncation?: { max_length?: number } | null;
  padding?: { pad_id?: number } | null;
}

interface TextModel {
  model: LoadedModel;
  tokenizer: Tokenizer;
  maxLength: number;
  padId: number;
  /** Ids of special tokens (kept at the end when truncating). */
  special: Set<number>;
  label: HTMLElement;
  prob: HTMLElement;
  latency: HTMLElement;
}

const SAMPLE = 'Congratulations! You have won a free prize. Reply now to claim your money.';

/** Builds the text panel in `#text`; fetches each model's tokenizer.json first. */
export async function textPanel(ctx: PanelContext, models: LoadedModel[]): Promise<Panel> {
  const section = byId('text');
  section.hidden = false;
  section.innerHTML = `<h2>Classify text</h2>
    <textarea id="text-input" rows="4" placeholder="Type an email, a review, a sentence…" aria-label="text to classify"></textarea>
    <p id="text-tokens" class="tokens"></p>
    <div id="text-cards" class="cards"></div>`;
  const input = byId('text-input') as HTMLTextAreaElement;
  const tokensLine = byId('text-tokens');
  const items: TextModel[] = [];
  for (const model of models) items.push(await textModel(byId('text-cards'), model));
  let busy: Promise<void> | undefined;
  let again = false;

  const classifyLoop = async (): Promise<void> => {
    do {
      again = false;
      const text = input.value;
      for (const t of items) {
        if (!text.trim()) {
          t.label.textContent = '–';
          t.prob.textContent = '';
          continue;
        }
        const enc = encode(t, text);
        if (t === items[0]) tokensLine.textContent = `${enc.tokens.length} tokens: ${enc.tokens.slice(0, 24).join(' ')}${enc.tokens.length > 24 ? ' …' : ''}${enc.truncated ? ' (truncated)' : ''}`;
        try {
          const { output, ms } = await runTimed(t.model, feeds(ctx, t.model.entry, enc));
          const p = probabilities(t.model.entry, output.data as Float32Array);
          let best = 0;
          p.forEach((v, i) => (best = v > p[best]! ? i : best));
          const label = t.model.entry.classes[best] ?? `class ${best}`;
          t.label.textContent = label;
          t.prob.textContent = `${(p[best]! * 100).toFixed(1)}%`;
          t.latency.textContent = `${formatMs(ms)} per inference`;
          t.latency.dataset.ms = String(ms);
          ctx.onPrediction(t.model.entry.name, { label, probability: p[best]!, probabilities: p, latencyMs: ms });
        } catch (err) {
          ctx.onError(`${t.model.entry.name}: ${String(err)}`);
        }
      }
    } while (again);
  };
  const classify = (): Promise<void> => {
    if (busy) {
      again = true;
      return busy;
    }
    busy = classifyLoop().finally(() => (busy = undefined));
    return busy;
  };
  input.addEventListener('input', () => void classify());
  return {
    benchFeeds: (m) => {
      const t = items.find((i) => i.model === m)!;
      return feeds(ctx, m.entry, encode(t, input.value.trim() ? input.value : SAMPLE));
    },
    idle: async () => void (await busy),
  };
}

async function textModel(parent: HTMLElement, model: LoadedModel): Promise<TextModel> {
  const url = model.entry.tokenizerUrl!;
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  const json = (await r.json()) as TokenizerJson;
  const tokenizer = new Tokenizer(json, {});
  const seq = model.entry.inputs[0]?.shape[1];
  const maxLength = typeof seq === 'number' && seq > 0 ? seq : (json.truncation?.max_length ?? 512);
  const el = document.createElement('article');
  el.className = 'card';
  el.dataset.model = model.entry.name;
  el.innerHTML = `<header><b class="name"></b><span class="prec"></span></header>
    <div class="pred"><span class="label">–</span><span class="prob"></span></div>
    <p class="meta"><span class="latency">– ms</span> · <span class="size"></span></p>`;
  q(el, '.name').textContent = model.entry.name.replaceAll('/', '/\u200b');
  q(el, '.prec').textContent = model.entry.precision;
  q(el, '.size').textContent = formatBytes(model.entry.bytes + JSON.stringify(json).length);
  q(el, '.size').title = 'model + tokenizer download size';
  parent.append(el);
  const special = new Set([...tokenizer.get_added_tokens_decoder()].filter(([, t]) => t.special).map(([id]) => id));
  return { model, tokenizer, maxLength, padId: json.padding?.pad_id ?? 0, special, label: q(el, '.label'), prob: q(el, '.prob'), latency: q(el, '.latency') };
}

interface Encoded {
  ids: number[];
  mask: number[];
  types: number[];
  tokens: string[];
  truncated: boolean;
}

/** Tokenizes, truncates to the model's length (keeping the closing special tokens), and pads to a fixed sequence dimension. */
function encode(t: TextModel, text: string): Encoded {
  const e = t.tokenizer.encode(text, { return_token_type_ids: true });
  let ids = e.ids;
  let tokens = e.tokens;
  let types = e.token_type_ids ?? ids.map(() => 0);
  const truncated = ids.length > t.maxLength;
  if (truncated) {
    // Cut the text, not the [SEP] / </s> the post-processor appended.
    let k = 0;
    while (k < ids.length - 1 && t.special.has(ids[ids.length - 1 - k]!)) k++;
    const keep = <T>(a: T[]): T[] => [...a.slice(0, t.maxLength - k), ...a.slice(a.length - k)];
    ids = keep(ids);
    tokens = keep(tokens);
    types = keep(types);
  }
  const fixed = typeof t.model.entry.inputs[0]?.shape[1] === 'number';
  const len = fixed ? t.maxLength : Math.max(1, ids.length);
  const out: Encoded = { ids: new Array(len).fill(t.padId), mask: new Array(len).fill(0), types: new Array(len).fill(0), tokens, truncated };
  for (let i = 0; i < ids.length; i++) {
    out.ids[i] = ids[i]!;
    out.mask[i] = 1;
    out.types[i] = types[i] ?? 0;
  }
  return out;
}

/** One feed per model input, chosen by name, in the input's integer type. */
function feeds(ctx: PanelContext, entry: ManifestModel, e: Encoded): Record<string, Ort.Tensor> {
  const out: Record<string, Ort.Tensor> = {};
  for (const inp of entry.inputs) {
    const values = /mask/i.test(inp.name) ? e.mask : /type/i.test(inp.name) ? e.types : e.ids;
    const dims = [1, values.length];
    out[inp.name] = inp.dtype === 'int32' ? new ctx.rt.ort.Tensor('int32', Int32Array.from(values), dims) : new ctx.rt.ort.Tensor('int64', BigInt64Array.from(values, (v) => BigInt(v)), dims);
  }
  return out;
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
