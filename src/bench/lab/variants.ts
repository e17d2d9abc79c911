/**
 * Variant builders every classifier workload can use today, each a thin call into the public
 * compression API: the fp32 baseline, dynamic and static int8, fp16, int4 weights and QAT int8.
 * Pruned, distilled and packed variants (issue 11) plug in as more `VariantSpec`s of the same shape.
 */
import { copyFileSync } from 'node:fs';
import { quantizeFile } from '../../compress/quantize/pipeline.js';
import { runQatFile } from '../../compress/quantize/qat-file.js';
import type { VariantSpec } from './workload.js';

/** The trained model as exported: the baseline. */
export const fp32Variant: VariantSpec = {
  id: 'fp32',
  label: 'fp32',
  quick: true,
  async build({ base, out }) {
    copyFileSync(base, out);
    return {};
  },
};

/** Dynamic int8 (int8 weights, activations quantized at run time; MatMul/Gemm). */
export const dynamicInt8Variant: VariantSpec = {
  id: 'int8-dynamic',
  label: 'int8 dynamic',
  quick: true,
  async build({ base, out, ctx }) {
    await quantizeFile({ input: base, output: out, mode: 'dynamic', measure: false, threads: ctx.threads });
    return {};
  },
};

/** Static int8 QDQ with calibration on `calib` (the training split of a data argument). */
export function staticInt8Variant(calib: string, options: { quick?: boolean } = {}): VariantSpec {
  return {
    id: 'int8-static',
    label: 'int8 static',
    quick: options.quick ?? true,
    async build({ base, out, ctx }) {
      await quantizeFile({ input: base, output: out, mode: 'static', calib, calibSize: ctx.quick ? 256 : 512, measure: false, threads: 1 });
      return {};
    },
  };
}

/** fp16 weights and compute, float32 inputs and outputs kept. */
export const fp16Variant: VariantSpec = {
  id: 'fp16',
  label: 'fp16',
  quick: false,
  async build({ base, out }) {
    await quantizeFile({ input: base, output: out, mode: 'fp16', measure: false });
    return {};
  },
};

/** int4 block-quantized MatMul weights (MatMulNBits). */
export const int4Variant: VariantSpec = {
  id: 'int4',
  label: 'int4 weights',
  quick: false,
  async build({ base, out }) {
    await quantizeFile({ input: base, output: out, mode: 'int4', measure: false });
    return {};
  },
};

/** Quantization-aware training: fake-quant fine-tuning on `data`, exported as real int8 QDQ. */
export function qatVariant(data: string, steps: number): VariantSpec {
  return {
    id: 'int8-qat',
    label: 'int8 QAT',
    quick: false,
    async build({ base, out, ctx }) {
      await runQatFile({ input: base, output: out, data, calib: data, steps, measure: false, threads: ctx.threads });
      return {};
    },
  };
}
