// The models catalog (kinds, precision, layouts, links) and the UI server (headers, what is and is not
// served, precompressed WASM, the lab report, one-line errors), without a browser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GraphBuilder } from '../onnx/builder.js';
import { writeModel } from '../onnx/model-io.js';
import { Tensor } from '../onnx/tensor.js';
import { mnistCnn, mnistMlp } from '../serve/example-models.js';
import { quantize } from '../compress/quantize/quantize.js';
import { TrainferError } from '../util/errors.js';
import { scanModels } from './catalog.js';
import type { ModelManifest } from './manifest.js';
import { builtPageDir, findLabReport, startUiServer } from './ui-server.js';

/** A models directory in every layout the catalog reads, plus things it must not run or serve. */
async function modelsFixture(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'trainfer-catalog-'));
  writeModel(join(dir, 'mlp.onnx'), mnistMlp());
  writeModel(join(dir, 'mlp-int8.onnx'), (await quantize({ model: mnistMlp(), mode: 'dynamic' })).model);
  mkdirSync(join(dir, 'mnist', '1'), { recursive: true });
  writeModel(join(dir, 'mnist', '1', 'model.onnx'), mnistCnn());
  // A text classifier's directory: model.onnx + tokenizer.json.
  const t = new GraphBuilder({ name: 'bag_of_words' });
  const ids = t.input('input_ids', 'int64', ['batch', 'seq']);
  const emb = t.initializer('emb', Tensor.f32([50, 2], Array.from({ length: 100 }, (_, i) => i / 100)));
  const [pooled] = t.op('ReduceMean', [t.op('Gather', [emb, ids])[0]!, t.constant(Tensor.i64([1], [1]))], { keepdims: { type: 'int', value: 0 } });
  t.output(pooled!, 'logits', { dtype: 'float32', shape: ['batch', 2] });
  mkdirSync(join(dir, 'spam'));
  writeModel(join(dir, 'spam', 'model.onnx'), t.toModel({ opset: 18 }));
  writeFileSync(join(dir, 'spam', 'tokenizer.json'), '{"model":{"type":"WordPiece","vocab":{}}}');
  // A tabular model: listed, not run.
  const g = new GraphBuilder({ name: 'tabular' });
  const x = g.input('features', 'float32', ['batch', 4]);
  g.output(g.matMul(x, g.initializer('w', Tensor.f32([4, 3], new Array(12).fill(0.1)))), 'y', { dtype: 'float32', shape: ['batch', 3] });
  writeModel(join(dir, 'tabular.onnx'), g.toModel());
  writeFileSync(join(dir, 'broken.onnx'), 'not a model');
  writeFileSync(join(dir, 'notes.txt'), 'private');
  symlinkSync(join(dir, 'mlp.onnx'), join(dir, 'linked.onnx'));
  symlinkSync(join(dir, 'gone.onnx'), join(dir, 'dangling.onnx'));
  mkdirSync(join(dir, '.hidden'));
  writeModel(join(dir, '.hidden', 'secret.onnx'), mnistMlp());
  return dir;
}

test('scanModels: kinds, precision, names and URLs for flat, repository and text-classifier layouts', async () => {
  const dir = await modelsFixture();
  try {
    const m = scanModels({ dir });
    const byName = Object.fromEntries(m.models.map((e) => [e.name, e]));
    assert.deepEqual(Object.keys(byName), ['broken', 'linked', 'mlp', 'mlp-int8', 'mnist/1', 'spam', 'tabular']);
    assert.equal(byName.linked!.sha256, byName.mlp!.sha256);
    assert.equal(byName.mlp!.kind, 'digits');
    assert.equal(byName.mlp!.precision, 'fp32');
    assert.equal(byName['mlp-int8']!.precision, 'int8');
    assert.deepEqual(byName.mlp!.input, { name: 'pixels', dtype: 'float32', shape: ['batch', 1, 28, 28] });
    assert.deepEqual(byName.mlp!.classes, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    assert.equal(byName['mnist/1']!.url, 'models/mnist/1/model.onnx');
    assert.equal(byName['mnist/1']!.kind, 'digits');
    assert.equal(byName.spam!.kind, 'text');
    assert.equal(byName.spam!.tokenizerUrl, 'models/spam/tokenizer.json');
    assert.equal(byName.tabular!.kind, 'other');
    assert.match(byName.tabular!.reason!, /input shape \[batch, 4\] is not \[N, 1, 28, 28\]/);
    assert.equal(byName.broken!.kind, 'other');
    assert.match(byName.broken!.reason!, /^not a loadable ONNX model: /);
    assert.match(byName.mlp!.sha256, /^[0-9a-f]{64}$/);
    assert.throws(() => scanModels({ dir: join(dir, 'missing') }), (e: unknown) => e instanceof TrainferError && /not a directory/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the UI server: COOP/COEP on every response, the manifest, models only, precompressed WASM, the lab report', async () => {
  const dir = await modelsFixture();
  const lab = mkdtempSync(join(tmpdir(), 'trainfer-lab-'));
  mkdirSync(join(lab, 'run-1'));
  writeFileSync(join(lab, 'run-1', 'report.html'), '<!doctype html><title>lab</title>');
  const ui = await startUiServer({ modelsDir: dir, port: 0, lab });
  try {
    const get = (path: string, headers: Record<string, string> = {}) => fetch(new URL(path, ui.url), { headers });
    const page = await get('');
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<canvas id="pad"/);
    for (const r of [page, await get('models/index.json'), await get('nope')]) {
      assert.equal(r.headers.get('cross-origin-opener-policy'), 'same-origin');
      assert.equal(r.headers.get('cross-origin-embedder-policy'), 'require-corp');
    }
    const manifest = (await (await get('models/index.json')).json()) as ModelManifest;
    assert.equal(manifest.labReport, 'lab/report.html');
    assert.equal(manifest.models.length, 7);
    assert.equal((await get('models/linked.onnx')).status, 200);
    const model = await get('models/mnist/1/model.onnx');
    assert.equal(model.status, 200);
    assert.equal((await model.arrayBuffer()).byteLength, manifest.models.find((e) => e.name === 'mnist/1')!.bytes);
    assert.equal((await get('models/spam/tokenizer.json')).status, 200);
    // Only models and tokenizers leave the directory; no dot-folders, no escaping it.
    for (const p of ['models/notes.txt', 'models/.hidden/secret.onnx', 'models/../package.json', 'models/%2e%2e/%2e%2e/package.json']) assert.ok([403, 404].includes((await get(p)).status), p);
    assert.deepEqual(await (await get('nope')).json(), { error: 'not found: /nope' });
    // The 14 MB onnxruntime-web WASM goes out brotli-compressed when the browser accepts it.
    const html = await (await get('')).text();
    const js = /src="\.\/(assets\/index-[\w-]+\.js)"/.exec(html)?.[1];
    assert.ok(js, 'index.html names its script');
    const wasmName = (await import('node:fs')).readdirSync(join(builtPageDir(), 'assets')).find((f) => /^ort-wasm-simd-threaded-[\w-]+\.wasm$/.test(f));
    const wasm = await get(`assets/${wasmName}`, { 'accept-encoding': 'br' });
    assert.equal(wasm.headers.get('content-encoding'), 'br');
    assert.equal(wasm.headers.get('content-type'), 'application/wasm');
    assert.match(wasm.headers.get('cache-control') ?? '', /immutable/);
    assert.ok(Number(wasm.headers.get('content-length')) < 4e6, `brotli: the 14 MB WASM in under 4 MB, got ${wasm.headers.get('content-length')}`);
    assert.ok((await wasm.arrayBuffer()).byteLength > 10e6, 'and it decodes to the full WASM');
    const lab1 = await get('lab/');
    assert.equal(lab1.status, 200);
    assert.match(await lab1.text(), /<title>lab<\/title>/);
  } finally {
    await ui.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(lab, { recursive: true, force: true });
  }
});

test('findLabReport and startUiServer fail with one-line errors', async () => {
  const lab = mkdtempSync(join(tmpdir(), 'trainfer-lab-'));
  try {
    assert.throws(() => findLabReport(join(lab, 'x')), /--lab .*: no such file or directory/);
    assert.throws(() => findLabReport(lab), /no report\.html in it/);
    writeFileSync(join(lab, 'notes.txt'), '');
    assert.throws(() => findLabReport(join(lab, 'notes.txt')), /not an \.html report/);
    await assert.rejects(startUiServer({ modelsDir: join(lab, 'none'), port: 0 }), /--models .*: not a directory/);
    const a = await startUiServer({ modelsDir: lab, port: 0 });
    try {
      await assert.rejects(startUiServer({ modelsDir: lab, port: Number(new URL(a.url).port) }), /--port \d+: already in use/);
    } finally {
      await a.close();
    }
  } finally {
    rmSync(lab, { recursive: true, force: true });
  }
});
