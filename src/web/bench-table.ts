/**
 * The browser benchmark as terminal text: one row per model (precision, size, p50, p99, throughput,
 * load time), then the backend, the browser and the page's download. Used by `trainfer ui --bench`
 * (and by `trainfer bench --browser`).
 */
import type { BrowserBenchResult } from './browser-bench.js';
import type { LatencySummary } from './latency-stats.js';

/**
 * Renders `r` as aligned lines (no trailing newline); with `node` (latency per model name from
 * `nodeLatency`), Node's p50/p99 and the browser ÷ Node ratio stand beside each row.
 */
export function formatBrowserBench(r: BrowserBenchResult, node?: Readonly<Record<string, LatencySummary>>): string {
  const head = ['model', 'precision', 'size', 'p50', 'p99', 'throughput', 'load'];
  if (node) head.push('node p50', 'node p99', 'browser/node');
  const rows = [
    head,
    ...r.models.map((m) => {
      const row = [m.name, m.precision, kb(m.bytes), ms(m.p50Ms), ms(m.p99Ms), `${Math.round(m.throughputPerS).toLocaleString('en-US')}/s`, ms(m.loadMs)];
      const n = node?.[m.name];
      if (node) row.push(n ? ms(n.p50Ms) : '–', n ? ms(n.p99Ms) : '–', n ? `${(m.p50Ms / n.p50Ms).toFixed(2)}×` : '–');
      return row;
    }),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  const lines = rows.map((row) => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '));
  lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  const d = r.download;
  return [
    ...lines,
    '',
    `${r.models[0]?.iterations ?? 0} inferences per model at batch 1 after ${r.models[0]?.warmup ?? 0} warm-up runs · ${r.backend.label} · Chromium ${r.browserVersion}${node ? ' · node: onnxruntime-node, 1 thread, same shapes' : ''}`,
    `page download: ${mb(d.transferredBytes)} transferred (${mb(d.decodedBytes)} uncompressed; models ${mb(d.modelBytes)}) in ${d.requests} requests; ready in ${ms(r.pageReadyMs)}; requests to other hosts: ${r.foreignRequests.length}`,
  ].join('\n');
}

function ms(v: number): string {
  return v < 1 ? `${v.toFixed(3)} ms` : v < 100 ? `${v.toFixed(2)} ms` : `${Math.round(v)} ms`;
}

function kb(n: number): string {
  return n < 1024 * 1024 ? `${(n / 1024).toFixed(0)} KB` : mb(n);
}

function mb(n: number): string {
  return `${(n / 1024 / 1024).toFixed(2)} MB`;
}
