/**
 * The in-page benchmark: for each model, `warmup` untimed runs then `iterations` timed `session.run`
 * calls at batch 1 on the panel's current input, one model after another, summarised as p50/p90/p99
 * and sequential throughput. The Run button shows a table; `window.trainfer.benchmark()` returns the
 * same numbers to drivers (`trainfer ui --bench`, the tests).
 */
import { summarizeLatencies } from '../../src/web/latency-stats.js';
import type { BrowserBenchReport, BrowserModelBench, PageBenchOptions } from '../../src/web/page-api.js';
import { formatBytes, formatMs } from './format.js';
import { type LoadedModel, runTimed } from './models.js';
import type { Panel } from './panels.js';
import type { Runtime } from './runtime.js';

/** A loaded model and the panel that knows its inputs. */
export interface BenchTarget {
  model: LoadedModel;
  panel: Panel;
}

/** Runs the benchmark; `onProgress` gets (model name, done, total) now and then. */
export async function runBenchmark(rt: Runtime, targets: BenchTarget[], o: PageBenchOptions, onProgress?: (name: string, done: number, total: number) => void): Promise<BrowserBenchReport> {
  const iterations = o.iterations ?? 200;
  const warmup = o.warmup ?? 10;
  if (!Number.isInteger(iterations) || iterations < 1) throw new Error(`iterations must be a positive integer, got ${iterations}`);
  const chosen = o.models ? targets.filter((t) => o.models!.includes(t.model.entry.name)) : targets;
  if (o.models) for (const name of o.models) if (!chosen.some((t) => t.model.entry.name === name)) throw new Error(`no loaded model named '${name}'`);
  const models: BrowserModelBench[] = [];
  for (const { model, panel } of chosen) {
    const feeds = panel.benchFeeds(model);
    for (let i = 0; i < warmup; i++) await runTimed(model, feeds);
    const times: number[] = [];
    for (let i = 0; i < iterations; i++) {
      times.push((await runTimed(model, feeds)).ms);
      if (i % 50 === 49) {
        onProgress?.(model.entry.name, i + 1, iterations);
        await new Promise((r) => setTimeout(r, 0)); // let the page repaint; not timed
      }
    }
    const e = model.entry;
    const inputs = Object.fromEntries(Object.entries(feeds).map(([name, t]) => [name, { dtype: t.type, dims: [...t.dims] }]));
    models.push({ name: e.name, kind: e.kind, precision: e.precision, bytes: e.bytes, loadMs: model.loadMs, warmup, inputs, ...summarizeLatencies(times) });
  }
  return { backend: rt.backend, userAgent: navigator.userAgent, hardwareConcurrency: navigator.hardwareConcurrency || 1, models };
}

/** Renders a report as the page's table. */
export function renderBenchTable(table: HTMLTableElement, r: BrowserBenchReport): void {
  const rows = r.models.map((m) => [m.name, m.precision, formatBytes(m.bytes), formatMs(m.p50Ms), formatMs(m.p99Ms), Math.round(m.throughputPerS).toLocaleString('en-US')]);
  table.innerHTML = '';
  const head = table.createTHead().insertRow();
  for (const h of ['model', 'prec.', 'size', 'p50', 'p99', 'inf/s']) head.append(Object.assign(document.createElement('th'), { textContent: h }));
  const body = table.createTBody();
  for (const cells of rows) {
    const tr = body.insertRow();
    for (const c of cells) tr.insertCell().textContent = c;
  }
}

/** One line under the table: what was measured, on what. */
export function benchNote(r: BrowserBenchReport): string {
  return `${r.models[0]?.iterations ?? 0} inferences per model at batch 1 after ${r.models[0]?.warmup ?? 0} warm-up runs · ${r.backend.label}`;
}
