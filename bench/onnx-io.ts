/**
 * Read/write time and peak memory of a large model (~320 MB of float32 initializers, built with the
 * GraphBuilder), stored inline and with external data. Each measurement runs in a fresh child process
 * so its peak RSS is its own; the floor rows (raw file read, bare protobuf decode, onnxruntime's own
 * session load) put the numbers in context.
 *
 * Run: flock /tmp/trainfer-bench.lock npx tsx bench/onnx-io.ts [--mb 320] [--repeats 3]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { GraphBuilder } from '../src/onnx/builder.js';
import { ModelProtoSchema } from '../src/onnx/gen/onnx_pb.js';
import type { Model } from '../src/onnx/ir.js';
import { modelToProto } from '../src/onnx/ir-proto.js';
import { readModel, writeModel } from '../src/onnx/model-io.js';
import { writeFileAtomic } from '../src/util/atomic-write.js';
import { Tensor } from '../src/onnx/tensor.js';

const PHASES = ['write-inline', 'write-inline-toBinary', 'write-external', 'read-file', 'decode-proto', 'read-inline', 'read-external', 'ort-load-inline', 'ort-load-external'] as const;
type Phase = (typeof PHASES)[number];

/** An MLP with `layers` square float32 weight matrices totalling about `mb` megabytes. */
function bigModel(mb: number): Model {
  const width = 2048;
  const layers = Math.max(1, Math.round((mb * 1e6) / (width * width * 4)));
  const g = new GraphBuilder({ name: 'big_mlp' });
  let x = g.input('x', 'float32', ['batch', width]);
  for (let l = 0; l < layers; l++) {
    const w = new Float32Array(width * width);
    for (let i = 0; i < w.length; i++) w[i] = ((i * 2654435761 + l) % 1000) / 1e6 - 0.0005;
    x = g.relu(g.matMul(x, g.initializer(`layer${l}.weight`, new Tensor('float32', [width, width], w))));
  }
  g.output(x, 'y');
  return g.toModel();
}

async function runPhase(phase: Phase, dir: string, mb: number): Promise<number> {
  const inline = join(dir, 'inline.onnx');
  const external = join(dir, 'external', 'model.onnx');
  let t0 = 0;
  switch (phase) {
    case 'write-inline': {
      const m = bigModel(mb);
      t0 = performance.now();
      writeModel(inline, m);
      break;
    }
    case 'write-inline-toBinary': {
      // The naive path for reference: protobuf-es toBinary copies each weight at every nesting level.
      const m = bigModel(mb);
      t0 = performance.now();
      writeFileAtomic(join(dir, 'naive.onnx'), toBinary(ModelProtoSchema, modelToProto(m), { writeUnknownFields: true }));
      break;
    }
    case 'write-external': {
      const m = bigModel(mb);
      t0 = performance.now();
      writeModel(external, m, { externalDataThreshold: 1024 });
      break;
    }
    case 'read-file':
      t0 = performance.now();
      readFileSync(inline);
      break;
    case 'decode-proto':
      t0 = performance.now();
      fromBinary(ModelProtoSchema, readFileSync(inline), { readUnknownFields: true });
      break;
    case 'read-inline':
      t0 = performance.now();
      readModel(inline);
      break;
    case 'read-external':
      t0 = performance.now();
      readModel(external);
      break;
    case 'ort-load-inline':
    case 'ort-load-external': {
      const ort = await import('onnxruntime-node');
      t0 = performance.now();
      const s = await ort.InferenceSession.create(phase === 'ort-load-inline' ? inline : external, { intraOpNumThreads: 1, graphOptimizationLevel: 'disabled' });
      const ms = performance.now() - t0;
      await s.release();
      return ms;
    }
  }
  return performance.now() - t0;
}

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1]! : dflt;
}

async function child(): Promise<void> {
  const phase = arg('--phase', '') as Phase;
  const ms = await runPhase(phase, arg('--dir', ''), Number(arg('--mb', '320')));
  // maxRSS is in KiB and covers the whole child: module loading + the phase.
  process.stdout.write(JSON.stringify({ ms, peakRssMiB: process.resourceUsage().maxRSS / 1024 }));
}

function machine(): string {
  const c = cpus();
  return `${c.length} cores, ${c[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}`;
}

async function parent(): Promise<void> {
  const mb = Number(arg('--mb', '320'));
  const repeats = Number(arg('--repeats', '3'));
  const dir = mkdtempSync(join(tmpdir(), 'trainfer-bench-io-'));
  const script = fileURLToPath(import.meta.url);
  const baseline = spawnSync(process.execPath, [...process.execArgv, '-e', 'process.stdout.write(String(process.resourceUsage().maxRSS / 1024))'], { encoding: 'utf8' });
  console.log(`onnx-io bench: ${machine()}`);
  try {
    const rows: string[][] = [];
    for (const phase of PHASES) {
      const runs: { ms: number; peakRssMiB: number }[] = [];
      for (let r = 0; r < repeats; r++) {
        const res = spawnSync(process.execPath, [...process.execArgv, script, '--child', '--phase', phase, '--dir', dir, '--mb', String(mb)], { encoding: 'utf8', maxBuffer: 1 << 20 });
        if (res.status !== 0) throw new Error(`${phase} failed: ${res.stderr.split('\n').slice(0, 5).join(' | ')}`);
        runs.push(JSON.parse(res.stdout));
      }
      const ms = runs.map((r) => r.ms).sort((a, b) => a - b)[Math.floor(runs.length / 2)]!;
      const rss = Math.max(...runs.map((r) => r.peakRssMiB));
      rows.push([phase, ms.toFixed(0), String(ms), rss.toFixed(0)]);
    }
    const size = statSync(join(dir, 'inline.onnx')).size;
    for (const r of rows) r[2] = (size / 1e6 / (Number(r[2]) / 1000)).toFixed(0);
    const ext = statSync(join(dir, 'external', 'model.onnx')).size;
    const data = statSync(join(dir, 'external', 'model.onnx.data')).size;
    console.log(`model: ${(size / 1e6).toFixed(1)} MB inline; external: ${(ext / 1e3).toFixed(1)} kB + ${(data / 1e6).toFixed(1)} MB data; median of ${repeats} runs, peak RSS = max over runs`);
    console.log(`empty node process (tsx loader) peak RSS: ${Number(baseline.stdout).toFixed(0)} MiB`);
    const header = ['phase', 'ms', 'MB/s', 'peak RSS MiB'];
    const all = [header, ...rows];
    const w = header.map((_, c) => Math.max(...all.map((r) => r[c]!.length)));
    for (const r of all) console.log(r.map((cell, c) => (c === 0 ? cell.padEnd(w[c]!) : cell.padStart(w[c]!))).join('  '));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv.includes('--child')) await child();
else await parent();
