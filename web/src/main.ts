/**
 * The page's start: load onnxruntime-web for the best backend this browser has, read the served models
 * directory's manifest, load every model a panel can run (grouped by kind), and expose
 * `window.trainfer` (state + benchmark) for drivers. Everything is fetched from this page's origin.
 */
import './style.css';
import type { ModelKind } from '../../src/web/manifest.js';
import type { PageApi, PageBenchOptions, PageState } from '../../src/web/page-api.js';
import { type BenchTarget, benchNote, renderBenchTable, runBenchmark } from './bench.js';
import { formatBytes, formatMs } from './format.js';
import { type LoadedModel, fetchManifest, loadModel } from './models.js';
import { PANELS, type Panel, type PanelContext } from './panels.js';
import { loadRuntime } from './runtime.js';

declare global {
  interface Window {
    trainfer: PageApi;
  }
}

const state: PageState = { ready: false, models: [], predictions: {}, errors: [] };
const targets: BenchTarget[] = [];
const panels: Panel[] = [];
let readyMs = NaN;

async function start(): Promise<void> {
  const rt = await loadRuntime(new URLSearchParams(location.search));
  state.backend = rt.backend;
  text('backend', rt.backend.label);
  const manifest = await fetchManifest();
  if (manifest.labReport) {
    (el('lab-link') as HTMLAnchorElement).href = manifest.labReport;
    el('lab').hidden = false;
  }
  const ctx: PanelContext = {
    rt,
    onPrediction: (name, p) => (state.predictions[name] = p),
    onInput: (kind, values) => {
      if (kind === 'digits') state.digitInput = values;
    },
    onError: fail,
  };
  const byKind = new Map<ModelKind, LoadedModel[]>();
  for (const entry of manifest.models) {
    const info = { name: entry.name, kind: entry.kind, precision: entry.precision, bytes: entry.bytes, status: '' };
    state.models.push(info);
    if (!PANELS[entry.kind]) {
      info.status = `not run: ${entry.reason ?? `no panel for ${entry.kind} models yet`}`;
      listOther(`${entry.name} — ${info.status.slice(9)}`);
      continue;
    }
    try {
      const m = await loadModel(rt, entry);
      Object.assign(info, { status: 'loaded', loadMs: m.loadMs });
      byKind.set(entry.kind, [...(byKind.get(entry.kind) ?? []), m]);
    } catch (err) {
      info.status = `error: ${String(err)}`;
      fail(`${entry.name}: ${String(err)}`);
    }
  }
  for (const [kind, models] of byKind) {
    try {
      const panel = await PANELS[kind]!(ctx, models);
      panels.push(panel);
      for (const model of models) targets.push({ model, panel });
    } catch (err) {
      for (const m of models) state.models.find((i) => i.name === m.entry.name)!.status = `error: ${String(err)}`;
      fail(`${kind} models: ${String(err)}`);
    }
  }
  el('empty').hidden = manifest.models.length > 0;
  if (targets.length) setUpBenchForm(rt);
  state.ready = true;
  readyMs = performance.now();
  showDownloadSize();
  window.trainfer.benchmark = (o?: PageBenchOptions) => runBenchmark(rt, targets, o ?? {});
}

function setUpBenchForm(rt: Awaited<ReturnType<typeof loadRuntime>>): void {
  el('bench').hidden = false;
  const form = el('bench-form') as HTMLFormElement;
  const button = el('bench-run') as HTMLButtonElement;
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const iterations = Number((el('bench-n') as HTMLInputElement).value);
    button.disabled = true;
    runBenchmark(rt, targets, { iterations }, (name, done, total) => (button.textContent = `${name} ${done}/${total}`))
      .then((r) => {
        renderBenchTable(el('bench-table') as HTMLTableElement, r);
        text('bench-note', benchNote(r));
        showDownloadSize();
      })
      .catch((err: unknown) => fail(`benchmark: ${String(err)}`))
      .finally(() => {
        button.disabled = false;
        button.textContent = 'Run';
      });
  });
}

/** The page's total download so far, from the Resource Timing entries (all same-origin, so sizes are exposed). */
function showDownloadSize(): void {
  const entries = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')] as PerformanceResourceTiming[];
  let transferred = 0;
  let decoded = 0;
  let models = 0;
  for (const e of entries) {
    transferred += e.transferSize;
    decoded += e.decodedBodySize;
    if (e.name.endsWith('.onnx')) models += e.decodedBodySize;
  }
  text('download', `page download: ${formatBytes(transferred)} transferred, ${formatBytes(decoded)} uncompressed (models ${formatBytes(models)}, onnxruntime-web and the page ${formatBytes(decoded - models)}) · ready in ${formatMs(readyMs)}`);
}

function listOther(line: string): void {
  el('others').hidden = false;
  const li = document.createElement('li');
  li.textContent = line;
  el('other-list').append(li);
}

function fail(message: string): void {
  state.errors.push(message);
  console.error(`trainfer: ${message}`);
}

function el(id: string): HTMLElement {
  const e = document.getElementById(id);
  if (!e) throw new Error(`page is missing #${id}`);
  return e;
}

function text(id: string, s: string): void {
  el(id).textContent = s;
}

window.trainfer = {
  state: () => structuredClone(state),
  settle: async () => {
    // A panel's pending prediction re-runs itself while its input keeps changing, so one wait suffices.
    await Promise.all(panels.map((p) => p.idle()));
    return structuredClone(state);
  },
  benchmark: () => Promise.reject(new Error('the page is still loading')),
};
start().catch((err: unknown) => {
  text('backend', `could not start: ${String(err)}`);
  fail(String(err));
});
