/**
 * The lab's pruned, distilled and packed variants (issue 11), each a thin call into the public
 * compression API on the workload's trained model: structured pruning to half the channels with
 * fine-tuning, the same followed by static int8, a small student distilled from the model (and its
 * static int8), and the Deep-Compression `.tfz` (measured decompressed; its stored bytes are the .tfz).
 * A stacked variant quantizes the file its unquantized sibling wrote in the same models directory when
 * that one was built first (the lab builds variants in order), so the fine-tuning runs once.
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { distillModel } from '../../compress/distill/distill.js';
import { packModel, unpackModel } from '../../compress/pack/pack-model.js';
import { pruneModel } from '../../compress/prune/prune-model.js';
import { quantizeFile } from '../../compress/quantize/pipeline.js';
import type { LabContext, VariantSpec } from './workload.js';

/** Runs `work` with a scratch directory removed afterwards. */
async function inScratch<T>(work: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'trainfer-lab-'));
  try {
    return await work(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const epochsFor = (ctx: LabContext, full: number): { epochs: number; maxSteps?: number } => (ctx.quick ? { epochs: 1, maxSteps: 200 } : { epochs: full });

async function prune(base: string, out: string, data: string, ctx: LabContext): Promise<void> {
  await pruneModel({ input: base, out, data, sparsity: 0.5, structured: true, ...epochsFor(ctx, 2), seed: ctx.seed, threads: ctx.threads });
}

/** Half of every channel group removed (dependency-aware structured pruning), fine-tuned on `data`. */
export function prunedVariant(data: string): VariantSpec {
  return {
    id: 'pruned',
    label: 'pruned ½ channels',
    async build({ base, out, ctx }) {
      await prune(base, out, data, ctx);
      return { notes: 'structured, 50% of each channel group, 2 epochs of fine-tuning' };
    },
  };
}

/** The pruned model, then static int8 calibrated on `data`: the two stacked. */
export function prunedInt8Variant(data: string): VariantSpec {
  return {
    id: 'pruned-int8',
    label: 'pruned + int8',
    async build({ base, out, ctx }) {
      await inScratch(async (dir) => {
        let pruned = join(dirname(out), 'pruned.onnx');
        if (!existsSync(pruned)) await prune(base, (pruned = join(dir, 'pruned.onnx')), data, ctx);
        await quantizeFile({ input: pruned, output: out, mode: 'static', calib: data, calibSize: 512, measure: false, threads: 1 });
      });
      return { notes: 'structured pruning, then static int8' };
    },
  };
}

async function distill(base: string, out: string, data: string, student: string, ctx: LabContext): Promise<void> {
  await distillModel({ teacher: base, student, data, out, ...epochsFor(ctx, 3), seed: ctx.seed, threads: ctx.threads });
}

/** A `student` preset (default `mlp:64`) distilled from the workload's model (T = 4, α = 0.7). */
export function distilledVariant(data: string, student = 'mlp:64'): VariantSpec {
  return {
    id: 'distilled',
    label: `distilled ${student}`,
    async build({ base, out, ctx }) {
      await distill(base, out, data, student, ctx);
      return { notes: `student ${student} distilled from the model, 3 epochs` };
    },
  };
}

/** The distilled student, then static int8. */
export function distilledInt8Variant(data: string, student = 'mlp:64'): VariantSpec {
  return {
    id: 'distilled-int8',
    label: `distilled ${student} + int8`,
    async build({ base, out, ctx }) {
      await inScratch(async (dir) => {
        let s = join(dirname(out), 'distilled.onnx');
        if (!existsSync(s)) await distill(base, (s = join(dir, 'student.onnx')), data, student, ctx);
        await quantizeFile({ input: s, output: out, mode: 'static', calib: data, calibSize: 512, measure: false, threads: 1 });
      });
      return { notes: `student ${student} distilled, then static int8` };
    },
  };
}

/** Deep Compression: 90% pruning, 5-bit shared weights, centroid fine-tuning; stored as the .tfz, run decompressed. */
export function packedVariant(data: string): VariantSpec {
  return {
    id: 'packed',
    label: 'packed .tfz',
    async build({ base, out, ctx }) {
      return inScratch(async (dir) => {
        const tfz = join(dir, 'model.tfz');
        await packModel({ input: base, out: tfz, data, sparsity: 0.9, bits: 5, ...(ctx.quick ? { epochs: 1, centroidEpochs: 1 } : {}), seed: ctx.seed, threads: ctx.threads });
        await unpackModel({ input: tfz, out });
        const storedBytes = statSync(tfz).size;
        return { storedBytes, notes: `stored as a ${storedBytes}-byte .tfz, decompressed to run` };
      });
    },
  };
}

/** Every compression variant above, in table order (pruned and distilled before their int8 stacks). */
export function compressionVariants(data: string): VariantSpec[] {
  return [prunedVariant(data), prunedInt8Variant(data), distilledVariant(data), distilledInt8Variant(data), packedVariant(data)];
}
