/**
 * The before/after table `trainfer quantize` prints, and the JSON it writes with `--json`.
 */
import type { QuantizeFileResult } from './pipeline.js';
import { summarizeReport } from './report.js';

const MODE_LABEL = { static: 'int8 static', dynamic: 'int8 dynamic', fp16: 'fp16', int4: 'int4', qat: 'int8 QAT' } as const;

/** Renders the result as aligned text lines. */
export function formatResult(r: QuantizeFileResult): string {
  const lines: string[] = [`${r.input} → ${r.output} (${MODE_LABEL[r.mode as keyof typeof MODE_LABEL] ?? r.mode})`, ''];
  const c = r.comparison;
  if (c) {
    const rows: [string, string, string, string][] = [['', 'float32', MODE_LABEL[r.mode as keyof typeof MODE_LABEL] ?? r.mode, 'change']];
    rows.push(['file size', bytes(c.float.fileBytes), bytes(c.quantized.fileBytes), `${(c.quantized.fileBytes / c.float.fileBytes).toFixed(2)}×`]);
    rows.push(['latency b=1 p50', ms(c.float.latencyP50Ms), ms(c.quantized.latencyP50Ms), speed(c.float.latencyP50Ms / c.quantized.latencyP50Ms)]);
    rows.push(['latency b=1 p99', ms(c.float.latencyP99Ms), ms(c.quantized.latencyP99Ms), speed(c.float.latencyP99Ms / c.quantized.latencyP99Ms)]);
    rows.push([`throughput b=${c.throughputBatch}`, `${Math.round(c.float.throughput).toLocaleString('en-US')}/s`, `${Math.round(c.quantized.throughput).toLocaleString('en-US')}/s`, speed(c.quantized.throughput / c.float.throughput)]);
    if (c.float.accuracy !== undefined && c.quantized.accuracy !== undefined) {
      const d = (c.quantized.accuracy - c.float.accuracy) * 100;
      rows.push(['accuracy', pct(c.float.accuracy), pct(c.quantized.accuracy), `${d >= 0 ? '+' : '−'}${Math.abs(d).toFixed(2)} pp`]);
    }
    const w = [0, 1, 2, 3].map((i) => Math.max(...rows.map((row) => row[i]!.length)));
    for (const [i, row] of rows.entries()) {
      lines.push(`  ${row[0].padEnd(w[0]!)}  ${row[1].padStart(w[1]!)}  ${row[2].padStart(w[2]!)}  ${row[3].padStart(w[3]!)}`);
      if (i === 0) lines.push(`  ${'─'.repeat(w[0]! + w[1]! + w[2]! + w[3]! + 6)}`);
    }
    const a = c.agreement;
    lines.push('', `  output agreement on ${r.evalData}: max |Δ| ${a.maxAbsDiff.toPrecision(3)} · cosine ${a.cosine.toFixed(5)} · top-1 ${pct(a.top1)}`);
    lines.push(`  (onnxruntime-node, ${c.threads === 'default' ? 'default threads' : `${c.threads} thread(s)`}, both models measured in this run)`);
  }
  if (r.measureSkipped) lines.push(`  ${r.measureSkipped}`);
  if (r.text?.accuracy) lines.push(`  accuracy on ${r.text.accuracy.data}, ${r.text.accuracy.samples} texts, tokenized as in training`);
  if (r.text) lines.push(`  tokenizer: ${r.text.tokenizer} (the output serves raw text)`);
  lines.push('', ...summarizeReport(r.report));
  return `${lines.join('\n')}\n`;
}

/** The result as one JSON-serialisable object. */
export function resultJson(r: QuantizeFileResult): unknown {
  return { input: r.input, output: r.output, mode: r.mode, evalData: r.evalData, measureSkipped: r.measureSkipped, text: r.text, ...r.comparison, report: r.report };
}

function bytes(n: number): string {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(2)} MB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KB` : `${n} B`;
}
function ms(x: number): string {
  return `${x < 1 ? x.toFixed(3) : x.toFixed(2)} ms`;
}
function pct(x: number): string {
  return `${(x * 100).toFixed(2)}%`;
}
function speed(r: number): string {
  return r >= 1 ? `${r.toFixed(2)}× faster` : `${(1 / r).toFixed(2)}× slower`;
}
