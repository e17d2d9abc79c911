/**
 * Test helper (not part of the public API or the npm package): a plausible lab run — two workloads,
 * three variants each, loss curves, server search trials — built from numbers, no training.
 */
import type { LabRun, LabVariant, LabWorkload } from '../lab/lab-run.js';
import { summarize } from '../loadgen/stats.js';

const lat = (p50: number) => summarize(Array.from({ length: 200 }, (_, i) => p50 * (0.6 + (i / 200) * (i > 196 ? 4 : 0.8))));

function variant(id: string, label: string, quality: number, bytes: number, p50: number, offline: number, qps: number | undefined): LabVariant {
  const trials = [0.5, 1, 0.75, 0.9].map((f) => ({ targetQps: offline * f * 0.6, valid: f <= 0.75 || qps === undefined ? qps !== undefined : false, stoppedEarly: f > 0.75, achievedQps: offline * f * 0.6, p50: p50 * (1 + f), p90: p50 * (2 + 3 * f), p99: p50 * (3 + 40 * f * f), judged: p50 * (3 + 40 * f * f), queries: 1000, invalidReasons: [] }));
  return {
    id, label, model: `models/w/${id}.onnx`, sha256: 'ab'.repeat(32), bytes, storedBytes: bytes, buildSeconds: id === 'fp32' ? 0 : 2.5, quality, requestBytes: 3400, responseBytes: 160,
    bench: {
      singleStream: { latencyMs: lat(p50), valid: true }, multiStream: { latencyMs: lat(p50 * 4), samplesPerQuery: 8, valid: true },
      offline: { samplesPerSecond: offline, batch: 64, valid: true }, server: { bestQps: qps, latencyBoundMs: 10, trials, latencyMs: qps ? lat(p50 * 2) : undefined },
      files: { 'single-stream': 'a.json', 'multi-stream': 'b.json', offline: 'c.json', server: 'd.json' },
    },
  };
}

function workload(id: string, title: string, scale: number): LabWorkload {
  return {
    id, title, task: 'image classification (MNIST)', quality: { name: 'top-1 test accuracy', percent: true, higherIsBetter: true }, bench: { offlineBatch: 64, samplesPerQuery: 8, latencyBoundMs: 10 }, reused: false, recipeHash: 'x',
    training: {
      model: id, data: 'mnist', out: `models/${id}/trained.onnx`, sha256: 'cd'.repeat(32), bytes: 800_000 / scale, parameters: 200_000, epochs: 3, steps: 1400, batchSize: 128, trainSeconds: 20 * scale, samplesPerSecond: 9000 / scale, testAccuracy: 0.98,
      history: [1, 2, 3].map((e) => ({ epoch: e, step: e * 466, loss: 0.5 / e, accuracy: 0.9 + e * 0.02, valLoss: 0.4 / e, valAccuracy: 0.92 + e * 0.02, lr: 0.1, seconds: e * 7 * scale, samplesPerSecond: 9000 })),
      lossCurve: Array.from({ length: 14 }, (_, i) => ({ step: (i + 1) * 100, epoch: 1 + Math.floor(i / 5), loss: 2 / (i + 1.5) })),
      timeToTarget: { target: 0.97, seconds: 14 * scale, epoch: 2 }, peakRssBytes: 300 * 2 ** 20, trainFlopsPerSample: 1.2e6 * scale, achievedGflops: 10.8, peak: { gflops: 150, n: 768, threads: 2, bestMs: 6 }, fractionOfPeak: 0.072, threads: 2,
    },
    variants: [variant('fp32', 'fp32', 0.98, 800_000 / scale, 0.05 * scale, 120_000 / scale, 80_000 / scale), variant('int8-dynamic', 'int8 dynamic', 0.9795, 210_000 / scale, 0.04 * scale, 220_000 / scale, 100_000 / scale), variant('int8-static', 'int8 static', 0.979, 205_000 / scale, 0.035 * scale, 200_000 / scale, undefined)],
  };
}

/** A lab run with made-up but consistent numbers. */
export function sampleLabRun(): LabRun {
  return {
    format: 'trainfer-lab-run', version: 1, id: '20261201T000000Z-test', createdAt: '2026-12-01T00:00:00.000Z', quick: true, seconds: 95,
    machine: { cpuModel: 'Test CPU', cores: 2, logicalCpus: 2, memoryBytes: 8 * 2 ** 30, platform: 'linux', arch: 'x64', kernel: '6', node: 'v20.20.2', onnxruntime: '1.30.0', trainfer: '0.1.0', cpuFlags: ['avx2'], loadAverage: [0.5, 0.4, 0.3] },
    peak: { gflops: 150, n: 768, threads: 2, bestMs: 6 },
    settings: { seed: 0, durationsMs: { singleStream: 500, multiStream: 500, offline: 1000, serverTrial: 500 }, predictionsPerDay: 1_000_000, profiles: 'hardware-profiles.json' },
    workloads: [workload('mnist-mlp', 'MNIST mlp:256', 1), workload('mnist-cnn', 'MNIST cnn', 8)],
  };
}
