import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphBuilder } from '../../onnx/builder.js';
import { FP16_CPU_OPS } from './fp16.js';
import { optimizedOps } from './test-models.js';

// The table says which ops ORT's CPU provider runs in fp16; any other op in a float16 graph gets Casts
// from ORT's InsertCastTransformer. Check a sample of both sides against the installed onnxruntime.
const cases: Record<string, (g: GraphBuilder, x: string) => string> = {
  Reshape: (g, x) => g.reshape(x, [2, 8]),
  Transpose: (g, x) => g.transpose(x, [0, 1, 3, 2]),
  Concat: (g, x) => g.concat([x, x], 1),
  Clip: (g, x) => g.clip(x),
  Gather: (g, x) => g.gather(x, g.int64s([0]), 2),
  Relu: (g, x) => g.relu(x),
  Add: (g, x) => g.add(x, x),
  MaxPool: (g, x) => g.maxPool(x, { kernelShape: [2, 2] }),
};

test('FP16_CPU_OPS matches which ops onnxruntime runs in fp16 without inserting Casts', async () => {
  for (const [op, build] of Object.entries(cases)) {
    const g = new GraphBuilder({ name: op });
    const x = g.input('x', 'float16', [1, 1, 4, 4]);
    g.graph.outputs.push({ name: build(g, x) });
    const casts = (await optimizedOps(g.toModel({ opset: 21 }))).filter((o) => o === 'Cast').length;
    assert.equal(casts === 0, FP16_CPU_OPS.has(op), `${op}: ${casts} Cast(s) inserted`);
  }
});
