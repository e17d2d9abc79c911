import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { reportFor } from '../../cli/inspect.js';
import { walkGraphs } from '../../onnx/ir.js';
import { encodeModelProto, readModel } from '../../onnx/model-io.js';
import { modelToProto } from '../../onnx/ir-proto.js';
import type { Tensor } from '../../onnx/tensor.js';
import { writeModelVerified } from '../../runtime/verified-write.js';
import { type QuantizeMode, quantize } from './quantize.js';
import { corpus } from './test-corpus.js';
import { runModel } from './test-models.js';

const dir = mkdtempSync(join(tmpdir(), 'trainfer-corpus-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

/** Mean over samples of the cosine similarity of two outputs' per-sample vectors. */
function meanCosine(a: Tensor, b: Tensor): number {
  const x = a.data as Float32Array;
  const y = b.data as Float32Array;
  const n = a.dims[0] ?? 1;
  const per = x.length / n;
  let sum = 0;
  for (let s = 0; s < n; s++) {
    let dot = 0;
    let nx = 0;
    let ny = 0;
    for (let k = s * per; k < (s + 1) * per; k++) {
      dot += x[k]! * y[k]!;
      nx += x[k]! * x[k]!;
      ny += y[k]! * y[k]!;
    }
    sum += nx === 0 && ny === 0 ? 1 : dot / Math.sqrt(nx * ny);
  }
  return sum / n;
}

// int8 ≥ 0.99 (the floor); int4 on a 3-class head of random weights is looser.
const FLOOR: Record<QuantizeMode, number> = { static: 0.99, dynamic: 0.99, fp16: 0.999, int4: 0.95 };

for (const [i, c] of corpus().entries()) {
  test(`third-party model: ${c.name} — ${c.modes.join(', ')} outputs load and match the original; inspect reads both`, async () => {
    const held = c.feeds(16, 42);
    const ref = await runModel(c.model, held);
    const inspected = reportFor(c.model, c.name);
    assert.deepEqual(inspected.problems.filter((p) => p.severity === 'error'), [], 'inspect found errors in the original');
    assert.equal(Object.values(inspected.ops).reduce((a, b) => a + b, 0), inspected.nodes);
    assert.ok(inspected.parameters > 0 && inspected.flops > 0, `parameters ${inspected.parameters}, flops ${inspected.flops}`);
    const floatBytes = encodeModelProto(modelToProto(c.model)).byteLength;
    const subgraphWeights = [...walkGraphs(c.model.graph)].slice(1).some((g) => g.nodes.some((n) => ['MatMul', 'Conv'].includes(n.opType)));
    for (const mode of c.modes) {
      const { model: q, report } = await quantize({ model: c.model, mode, calibration: mode === 'static' ? () => [c.feeds(16, 1), c.feeds(16, 2)] : undefined, autotune: false });
      const path = join(dir, `${i}-${mode}.onnx`);
      await writeModelVerified({ path, model: q, feeds: c.feeds(2, 3) });
      const loaded = readModel(path);
      const got = await runModel(loaded, held);
      for (const [name, want] of Object.entries(ref)) {
        if (want.dtype !== 'float32') continue;
        const cos = meanCosine(want, got[name]!);
        assert.ok(cos >= FLOOR[mode], `${mode}: output '${name}' cosine ${cos.toFixed(5)} < ${FLOOR[mode]}`);
      }
      assert.deepEqual(reportFor(loaded, path).problems.filter((p) => p.severity === 'error'), [], `inspect found errors in the ${mode} output`);
      if (mode !== 'static') assert.ok(statSync(path).size < floatBytes * 0.8, `${mode}: ${statSync(path).size} B vs ${floatBytes} B float`);
      if (mode === 'dynamic' && subgraphWeights) {
        assert.ok(report.outcomes.some((r) => r.graph !== 'main' && r.status === 'quantized'), 'no subgraph weight quantized');
      }
    }
  });
}

test('the corpus covers each toolchain, paddle2onnx opsets 9–11, PyTorch 13–18, subgraphs, several and int64 inputs', () => {
  const all = corpus();
  const opsets = new Set(all.map((c) => `${c.toolchain}:${c.model.opset}`));
  for (const o of ['paddle2onnx:9', 'paddle2onnx:10', 'paddle2onnx:11', 'pytorch:13', 'pytorch:14', 'pytorch:16', 'pytorch:17', 'pytorch:18', 'tf2onnx:13']) assert.ok(opsets.has(o), o);
  assert.ok(all.some((c) => c.model.graph.feedInputs().length > 1 && c.model.graph.feedInputs().every((v) => v.type?.dtype === 'int64')));
  assert.ok(all.some((c) => c.model.graph.nodes.some((n) => n.opType === 'Loop')) && all.some((c) => c.model.graph.nodes.some((n) => n.opType === 'If')));
  assert.ok(all.some((c) => c.model.graph.nodes.every((n) => n.opType !== 'MatMul' && n.opType !== 'Gemm')), 'a model with Conv weights only');
  assert.equal(readdirSync(dir).filter((f) => f.startsWith('.')).length, 0, 'verification left temporary files');
});
