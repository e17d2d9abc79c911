/**
 * `trainfer inspect <model.onnx> [--batch N] [--dim name=N] [--json]`: what a model is — producer,
 * versions, inputs/outputs with symbolic dims, op histogram (subgraphs included), parameters, FLOPs per
 * inference with every dim assumption stated, and validation problems. `buildInspectReport` is the
 * data; `formatInspectReport` the aligned text; `--json` prints the report as one object.
 */
import { statSync } from 'node:fs';
import type { Command } from 'commander';
import { countParameters, estimateFlops } from '../onnx/cost.js';
import { type Dim, type Model, type ValueInfo, walkGraphs } from '../onnx/ir.js';
import { inferTypes } from '../onnx/shape-infer.js';
import { readModel } from '../onnx/model-io.js';
import { validateGraph } from '../onnx/validate.js';
import { collect, parseDims, parsePositiveInt, type CliCommand } from './command.js';

/** One input or output. Symbolic dims are strings, unknown dims null, unknown rank a null shape. */
export interface InspectValue {
  name: string;
  dtype: string | null;
  shape: Dim[] | null;
  /** True when the file declares no type and this one was inferred. */
  inferred?: boolean;
  /** What inference found when it differs from the declared shape (e.g. exporter-made dim names). */
  inferredShape?: Dim[];
}

/** Everything `inspect` reports (the `--json` object). */
export interface InspectReport {
  file: string;
  fileBytes: number;
  producer: { name: string; version: string };
  irVersion: number;
  /** Domain → version; the default domain is `ai.onnx`. */
  opsets: Record<string, number>;
  domain: string;
  modelVersion: number;
  docString: string;
  metadata: Record<string, string>;
  inputs: InspectValue[];
  outputs: InspectValue[];
  /** Op type → count over the main graph and every subgraph, most frequent first. */
  ops: Record<string, number>;
  nodes: number;
  subgraphs: number;
  functions: string[];
  parameters: number;
  parameterBytes: number;
  parametersByDType: Record<string, { parameters: number; bytes: number; tensors: number }>;
  constants: { elements: number; bytes: number; tensors: number };
  batch: number;
  /** Estimated FLOPs per inference at `batch` (FLOP = one add or multiply; a MAC is 2). */
  flops: number;
  flopsByOpType: Record<string, number>;
  assumptions: string[];
  uncountedOps: string[];
  problems: { severity: 'error' | 'warning'; graph: string; node: string; opType: string; input: string | null; message: string }[];
}

/** Options for `buildInspectReport`. */
export interface InspectOptions {
  batch?: number;
  dims?: Record<string, number>;
}

/** Reads `file` and builds the report. Throws `FileFormatError` for unreadable files. */
export function buildInspectReport(file: string, options: InspectOptions = {}): InspectReport {
  // Weights are not needed to describe a model: external data is checked, not read.
  const model = readModel(file, { externalData: 'check' });
  return reportFor(model, file, options);
}

/** Builds the report for an in-memory model (`file` is only a label). */
export function reportFor(model: Model, file: string, options: InspectOptions = {}): InspectReport {
  const batch = options.batch ?? 1;
  const g = model.graph;
  const ops: Record<string, number> = {};
  let nodes = 0;
  let subgraphs = -1;
  for (const sg of walkGraphs(g)) {
    subgraphs++;
    for (const n of sg.nodes) {
      const key = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : n.opType;
      ops[key] = (ops[key] ?? 0) + 1;
      nodes++;
    }
  }
  const params = countParameters(model);
  const flops = estimateFlops(model, { batch, dims: options.dims });
  const inferred = inferTypes(model).types;
  const value = (v: ValueInfo): InspectValue => {
    const guess = !v.type?.shape ? inferred.get(v.name) : undefined;
    const t = guess ?? v.type;
    const out: InspectValue = { name: v.name, dtype: t?.dtype ?? null, shape: t?.shape ? [...t.shape] : null };
    if (guess) out.inferred = true;
    const found = inferred.get(v.name)?.shape;
    if (!guess && found && JSON.stringify(found) !== JSON.stringify(out.shape)) out.inferredShape = [...found];
    return out;
  };
  let fileBytes = 0;
  try {
    fileBytes = statSync(file).size;
  } catch {
    fileBytes = 0;
  }
  return {
    file,
    fileBytes,
    producer: { name: model.producerName, version: model.producerVersion },
    irVersion: model.irVersion,
    opsets: Object.fromEntries([...model.opsets].map(([d, v]) => [d === '' ? 'ai.onnx' : d, v])),
    domain: model.domain,
    modelVersion: model.modelVersion,
    docString: model.docString,
    metadata: Object.fromEntries(model.metadata),
    inputs: g.feedInputs().map(value),
    outputs: g.outputs.map(value),
    ops: Object.fromEntries(Object.entries(ops).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))),
    nodes,
    subgraphs,
    functions: model.functions.map((f) => (f.domain ? `${f.domain}.${f.name}` : f.name)),
    parameters: params.parameters,
    parameterBytes: params.parameterBytes,
    parametersByDType: params.byDType,
    constants: params.constants,
    batch,
    flops: flops.total,
    flopsByOpType: Object.fromEntries(Object.entries(flops.byOpType).sort((a, b) => b[1] - a[1])),
    assumptions: flops.assumptions,
    uncountedOps: flops.uncounted,
    problems: validateGraph(model).map((p) => ({ severity: p.severity, graph: p.graph, node: p.node, opType: p.opType, input: p.input ?? null, message: p.message })),
  };
}

// ---- text rendering ----

/** `1.23 M`, `45.6 G` … (SI, 3 significant digits). */
export function si(n: number, unit = ''): string {
  const abs = Math.abs(n);
  const [d, s] = abs >= 1e12 ? [1e12, 'T'] : abs >= 1e9 ? [1e9, 'G'] : abs >= 1e6 ? [1e6, 'M'] : abs >= 1e3 ? [1e3, 'k'] : [1, ''];
  const v = n / d;
  const str = d === 1 ? String(Math.round(v)) : v.toPrecision(3);
  return `${str}${s || unit ? ' ' : ''}${s}${unit}`;
}

/** `44.7 MiB` */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toPrecision(3)} ${units[i]}`;
}

const fmtDims = (s: Dim[] | null) => (s ? `[${s.map((d) => (d === null ? '?' : String(d))).join(', ')}]` : 'unknown rank');

/** Left-aligned columns, two spaces apart. */
function table(rows: string[][], indent = '  '): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => indent + r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ').trimEnd());
}

/** Renders the report as aligned text. */
export function formatInspectReport(r: InspectReport): string {
  const out: string[] = [];
  const producer = [r.producer.name, r.producer.version].filter(Boolean).join(' ') || '(not recorded)';
  out.push(`${r.file}  (${bytes(r.fileBytes)})`);
  const head: string[][] = [
    ['producer', producer],
    ['IR version', String(r.irVersion)],
    ['opsets', Object.entries(r.opsets).map(([d, v]) => `${d} ${v}`).join(', ')],
  ];
  if (r.domain || r.modelVersion) head.push(['model', [r.domain, r.modelVersion ? `v${r.modelVersion}` : ''].filter(Boolean).join(' ')]);
  if (r.docString) head.push(['doc', r.docString.split('\n')[0]!.slice(0, 100)]);
  for (const [k, v] of Object.entries(r.metadata)) head.push([`meta ${k}`, v.split('\n')[0]!.slice(0, 100)]);
  if (r.functions.length) head.push(['functions', r.functions.join(', ')]);
  out.push(...table(head));
  for (const [title, vals] of [['Inputs', r.inputs], ['Outputs', r.outputs]] as const) {
    out.push('', `${title} (${vals.length})`);
    if (vals.length) out.push(...table([['name', 'dtype', 'shape'], ...vals.map((v) => [v.name, v.dtype ?? '?', `${fmtDims(v.shape)}${v.inferred ? '  (inferred)' : v.inferredShape ? `  (inferred ${fmtDims(v.inferredShape)})` : ''}`])]));
  }
  const opEntries = Object.entries(r.ops);
  out.push('', `Ops (${r.nodes} nodes, ${opEntries.length} types${r.subgraphs ? `, ${r.subgraphs} subgraph${r.subgraphs === 1 ? '' : 's'}` : ''})`);
  const maxCount = Math.max(1, ...opEntries.map(([, c]) => c));
  const totalFlops = r.flops || 1;
  out.push(...table([
    ['op', 'count', 'FLOPs', 'share', ''],
    ...opEntries.map(([op, c]) => {
      const f = r.flopsByOpType[op];
      // '?' = not counted (unknown op or shapes); blank = moves data only
      return [op, String(c).padStart(5), f === undefined ? '?' : f === 0 ? '' : si(f), f ? `${((100 * f) / totalFlops).toFixed(1).padStart(5)}%` : '', '▇'.repeat(Math.max(1, Math.round((12 * c) / maxCount)))];
    }),
  ]));
  out.push('', 'Cost');
  const byType = Object.entries(r.parametersByDType).map(([d, e]) => `${si(e.parameters)} ${d}`).join(', ');
  const cost: string[][] = [
    ['parameters', r.parameters ? `${si(r.parameters)}  (${r.parameters.toLocaleString('en-US')}; ${bytes(r.parameterBytes)}${byType ? `; ${byType}` : ''})` : '0'],
  ];
  const plural = (n: number, w: string) => `${n.toLocaleString('en-US')} ${w}${n === 1 ? '' : 's'}`;
  if (r.constants.tensors) cost.push(['constants', `${plural(r.constants.tensors, 'int64/bool tensor')} (${plural(r.constants.elements, 'element')}, ${bytes(r.constants.bytes)}), not counted as parameters`]);
  cost.push(['FLOPs', `${si(r.flops, 'FLOP')} per inference at batch ${r.batch}  (${si(r.flops / 2, 'MAC')})`]);
  for (const a of r.assumptions) cost.push(['assumed', a]);
  if (r.uncountedOps.length) cost.push(['not counted', r.uncountedOps.join(', ')]);
  out.push(...table(cost));
  const errors = r.problems.filter((p) => p.severity === 'error');
  const warnings = r.problems.filter((p) => p.severity === 'warning');
  out.push('', errors.length || warnings.length ? `Validation: ${errors.length} error${errors.length === 1 ? '' : 's'}, ${warnings.length} warning${warnings.length === 1 ? '' : 's'}` : 'Validation: ok');
  const shown = [...errors, ...warnings];
  for (const p of shown.slice(0, 20)) out.push(`  ${p.severity}: ${p.message}`);
  if (shown.length > 20) out.push(`  … and ${shown.length - 20} more (see --json)`);
  return out.join('\n');
}

interface InspectFlags {
  batch: number;
  dim?: string[];
  json?: boolean;
}

/** `trainfer inspect` */
export const inspectCommand: CliCommand = {
  name: 'inspect',
  define(program: Command) {
    program
      .command('inspect')
      .description('show what an .onnx model is: inputs/outputs, ops, parameters, FLOPs, problems')
      .argument('<model.onnx>', 'the model file (external data is read from beside it)')
      .option('--batch <n>', 'batch size for the FLOP estimate (fills each input\'s dynamic first dim)', parsePositiveInt('--batch'), 1)
      .option('--dim <name=N>', 'value of a named symbolic dim for the FLOP estimate (repeatable), e.g. --dim seq=128', collect, [] as string[])
      .option('--json', 'print one JSON object')
      .action((file: string, flags: InspectFlags) => {
        const report = buildInspectReport(file, { batch: flags.batch, dims: parseDims(flags.dim) });
        process.stdout.write(flags.json ? `${JSON.stringify(report)}\n` : `${formatInspectReport(report)}\n`);
      });
  },
};
