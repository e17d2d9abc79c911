import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { countParameters } from './cost.js';
import { modelToProto } from './ir-proto.js';
import { encodeModelProto, readModel } from './model-io.js';
import { inferTypes } from './shape-infer.js';
import { runOrt, runOrtAllValues } from './test-ort.js';
import { Tensor } from './tensor.js';
import { validateGraph } from './validate.js';

/** Real PyTorch exports shipped in src/onnx/testdata (see make-torch-exports.py there). */
function testdata(name: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return join(dir, 'src', 'onnx', 'testdata', name);
}

const CASES = {
  'torch-transformer-block.onnx': { tokens: Tensor.i64([3, 7], Array.from({ length: 21 }, (_, i) => (i * 37) % 100)) },
  'torch-small-cnn.onnx': { image: Tensor.f32([2, 3, 15, 15], Array.from({ length: 1350 }, (_, i) => Math.sin(i))) },
};

for (const [name, feeds] of Object.entries(CASES)) {
  test(`PyTorch export ${name}: every inferred shape matches ORT, no dim left unknown`, async () => {
    const file = testdata(name);
    const m = readModel(file);
    assert.equal(m.producerName, 'pytorch');
    assert.deepEqual(validateGraph(m), []);
    const res = inferTypes(m);
    assert.deepEqual(res.problems, []);
    const actual = await runOrtAllValues(m, feeds);
    const symbols = new Map<string, number>();
    for (const [v, t] of Object.entries(actual)) {
      const inf = res.types.get(v);
      assert.ok(inf?.shape, `no shape for '${v}'`);
      assert.equal(inf.dtype, t.dtype, v);
      assert.equal(inf.shape.length, t.dims.length, `${v}: [${inf.shape}] vs [${t.dims}]`);
      inf.shape.forEach((d, i) => {
        assert.notEqual(d, null, `${v}: dim ${i} unknown`);
        if (typeof d === 'number') assert.equal(d, t.dims[i], `${v}: [${inf.shape}] vs [${t.dims}]`);
        else if (typeof d === 'string') {
          const seen = symbols.get(d) ?? t.dims[i]!;
          symbols.set(d, seen);
          assert.equal(t.dims[i], seen, `${v}: symbol '${d}'`);
        }
      });
    }
    // Lossless round trip of a foreign producer's file, and the same outputs.
    const bytes = readFileSync(file);
    const again = encodeModelProto(modelToProto(m));
    assert.ok(Buffer.compare(bytes, again) === 0, 'read → write changed a PyTorch-written file');
    assert.deepEqual((await runOrt(again, feeds)), await runOrt(bytes, feeds));
    assert.ok(countParameters(m).parameters > 900);
  });
}
