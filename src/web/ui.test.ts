// The browser page end to end in headless Chromium: a real MNIST digit drawn with mouse events on a
// phone-sized page and predicted by trained mlp/cnn fp32 and int8 models (agreeing with onnxruntime-node),
// the text box, WebGPU (SwiftShader), threads with and without COOP/COEP, and the benchmark driver.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { Tensor } from '../onnx/tensor.js';
import { Session } from '../runtime/session.js';
import { browserSkipReason, launchChromium } from '../testing/chromium.js';
import { formatBrowserBench } from './bench-table.js';
import { benchFilesInBrowser, openPage, runBrowserBenchmark } from './browser-bench.js';
import { nodeLatency } from './node-latency.js';
import type { PageState } from './page-api.js';
import { type DigitModels, type DrawableDigit, PAD_SIZE, type Stroke, pickDrawableDigit, softmax, trainDigitModels } from './test-digits.js';
import { writeTextClassifier } from './test-text.js';
import { type UiServer, startUiServer } from './ui-server.js';

const skip = browserSkipReason();

/** Traces strokes on the pad with mouse events, in the pad's on-screen coordinates. */
async function drawStrokes(page: Page, strokes: readonly Stroke[]): Promise<void> {
  const box = await page.locator('#pad').boundingBox();
  assert.ok(box, 'the drawing pad is on screen');
  const at = (p: [number, number]): [number, number] => [box.x + (p[0] * box.width) / PAD_SIZE, box.y + (p[1] * box.height) / PAD_SIZE];
  for (const s of strokes) {
    await page.mouse.move(...at(s.from));
    await page.mouse.down();
    await page.mouse.move(...at(s.to), { steps: 3 });
    await page.mouse.up();
  }
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return ab / Math.sqrt(aa * bb);
}

describe('the browser page (onnxruntime-web in headless Chromium)', { skip }, () => {
  let dir: string;
  let trained: DigitModels;
  let digit: DrawableDigit;
  let ui: UiServer;
  let browser: Browser;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'trainfer-ui-'));
    trained = await trainDigitModels(dir);
    digit = await pickDrawableDigit({ models: Object.values(trained.models), test: trained.test });
    writeTextClassifier(join(dir, 'spam'));
    ui = await startUiServer({ modelsDir: dir, port: 0 });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await ui?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a real MNIST digit drawn with the mouse on a phone-sized page is predicted by mlp/cnn, fp32 and int8', async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
    try {
      const { state, log } = await openPage({ page, url: ui.url });
      assert.deepEqual(state.errors, []);
      assert.deepEqual(
        state.models.map((m) => [m.name, m.kind, m.precision, m.status]),
        [
          ['cnn', 'digits', 'fp32', 'loaded'],
          ['cnn-int8', 'digits', 'int8', 'loaded'],
          ['mlp', 'digits', 'fp32', 'loaded'],
          ['mlp-int8', 'digits', 'int8', 'loaded'],
          ['spam', 'text', 'fp32', 'loaded'],
        ],
      );
      // COOP/COEP from the server: isolated, so onnxruntime-web runs WASM threads.
      assert.equal(state.backend?.crossOriginIsolated, true);
      assert.equal(state.backend?.provider, 'wasm');
      assert.equal(state.backend?.simd, true);
      assert.equal(state.backend?.threads, Math.min(4, await page.evaluate<number>('navigator.hardwareConcurrency')));
      assert.match((await page.textContent('#backend')) ?? '', /^WASM SIMD, \d threads? \(cross-origin isolated\)$/);

      await drawStrokes(page, digit.strokes);
      const after: PageState = await page.evaluate<PageState>('window.trainfer.settle()');
      // The drawing reached the models faithfully: mouse → canvas → 28×28 gives what the strokes
      // rasterized in Node give (canvas anti-aliasing aside), and that still looks like the original.
      assert.ok(after.digitInput, 'the page fed a 28×28 input');
      const vsStrokes = cosine(after.digitInput, digit.redrawn);
      assert.ok(vsStrokes > 0.98, `page input vs the strokes rasterized in Node: cosine ${vsStrokes.toFixed(4)}`);
      const vsOriginal = cosine(after.digitInput, digit.pixels);
      assert.ok(vsOriginal > 0.5, `page input vs the MNIST original: cosine ${vsOriginal.toFixed(3)}`);
      for (const name of ['cnn', 'cnn-int8', 'mlp', 'mlp-int8']) {
        const p = after.predictions[name];
        assert.ok(p, `${name} predicted`);
        assert.equal(p.label, String(digit.label), `${name} on test digit #${digit.index} (a ${digit.label}): ${JSON.stringify(p)}`);
        const card = page.locator(`.card[data-model="${name}"]`);
        assert.equal(await card.locator('.label').textContent(), String(digit.label));
        assert.match((await card.locator('.latency').textContent()) ?? '', /^\d+\.\d+ ms per inference$/);
        assert.ok(p.latencyMs > 0 && p.latencyMs < 1000, `${name} latency ${p.latencyMs} ms`);
        assert.match((await card.locator('.size').textContent()) ?? '', /^\d+(\.\d)? (KB|MB)$/);
      }
      // In-browser inference agrees with onnxruntime-node on the very same input.
      const x = new Tensor('float32', [1, 1, 28, 28], Float32Array.from(after.digitInput));
      for (const name of ['cnn', 'mlp'] as const) {
        const s = await Session.create({ model: trained.models[name] }, { intraOpThreads: 1 });
        const logits = Object.values(await s.run({ [s.inputNames[0]!]: x }))[0]!.data as Float32Array;
        await s.release();
        const node = softmax(logits);
        after.predictions[name]!.probabilities.forEach((pw, i) => assert.ok(Math.abs(pw - node[i]!) < 1e-4, `${name} class ${i}: web ${pw} vs node ${node[i]}`));
      }
      // Phone-sized: nothing wider than the viewport, the pad fully on screen.
      assert.ok((await page.evaluate<number>('document.documentElement.scrollWidth')) <= 390);
      const pad = await page.locator('#pad').boundingBox();
      assert.ok(pad && pad.x >= 0 && pad.x + pad.width <= 390 && pad.width >= 200, `pad ${JSON.stringify(pad)}`);

      await page.click('#clear');
      await page.evaluate('window.trainfer.settle()');
      assert.equal(await page.locator('.card[data-model="cnn"] .label').textContent(), '–');

      // The Run button: a table row per model.
      await page.fill('#bench-n', '20');
      await page.click('#bench-run');
      await page.locator('#bench-table tbody tr').nth(3).waitFor();
      assert.equal(await page.locator('#bench-table tbody tr').count(), 5);

      assert.deepEqual(log.consoleErrors, []);
      assert.deepEqual(log.foreignRequests, [], 'every request goes to the page origin (no CDN)');
      assert.ok(log.requests.some((u) => /\/assets\/ort-wasm-simd-threaded-[\w-]+\.wasm$/.test(u)), 'onnxruntime-web WASM came from the page origin');
    } finally {
      await page.close();
    }
  });

  test('the text box: typed text is tokenized in the page (tokenizer.json) and classified', async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
    try {
      const { log } = await openPage({ page, url: ui.url });
      const box = page.locator('#text-input');
      await box.pressSequentially('Win FREE money now!');
      let st: PageState = await page.evaluate<PageState>('window.trainfer.settle()');
      // [CLS] win free money now ! [SEP]: 4 spam votes of 7 tokens → softmax([0, 4/7]).
      const spamP = 1 / (1 + Math.exp(-4 / 7));
      assert.equal(st.predictions.spam?.label, 'spam');
      assert.ok(Math.abs(st.predictions.spam!.probability - spamP) < 1e-5, `p(spam) ${st.predictions.spam!.probability} vs ${spamP}`);
      assert.equal(await page.textContent('.card[data-model="spam"] .label'), 'spam');
      assert.match((await page.textContent('#text-tokens')) ?? '', /^7 tokens: \[CLS\] win free money now ! \[SEP\]$/);
      assert.match((await page.textContent('.card[data-model="spam"] .latency')) ?? '', /ms per inference$/);
      await box.fill('');
      await box.pressSequentially('Meeting notes for tomorrow');
      st = await page.evaluate<PageState>('window.trainfer.settle()');
      assert.equal(st.predictions.spam?.label, 'ham');
      // Past tokenizer.json's truncation.max_length (64) the page truncates, and says so.
      await box.fill('free '.repeat(100));
      await page.evaluate('window.trainfer.settle()');
      assert.match((await page.textContent('#text-tokens')) ?? '', /^64 tokens: .*\(truncated\)$/);
      assert.deepEqual(log.consoleErrors, []);
      assert.deepEqual(log.foreignRequests, []);
    } finally {
      await page.close();
    }
  });

  test('WebGPU (Chromium’s SwiftShader software adapter): the page picks it and predicts the drawn digit as onnxruntime-node does', async (t) => {
    // A WebGPU adapter without a GPU: Chromium's SwiftShader (Vulkan on the CPU) — slow, but the real WebGPU path.
    const gpuBrowser = await launchChromium({ args: ['--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader', '--enable-unsafe-swiftshader'] });
    const gpuDir = mkdtempSync(join(tmpdir(), 'trainfer-webgpu-'));
    copyFileSync(trained.files.mlp, join(gpuDir, 'mlp.onnx'));
    const gpuUi = await startUiServer({ modelsDir: gpuDir, port: 0 });
    try {
      const page = await gpuBrowser.newPage();
      const { state, log } = await openPage({ page, url: gpuUi.url });
      if (!state.backend?.webgpu) {
        if (process.env.CI) assert.fail('CI: no WebGPU adapter from SwiftShader in this Chromium');
        t.skip('this Chromium gives no WebGPU adapter');
        return;
      }
      assert.equal(state.backend.provider, 'webgpu');
      assert.match((await page.textContent('#backend')) ?? '', /^WebGPU \(WASM SIMD for the rest\)/);
      assert.deepEqual(state.models.map((m) => m.status), ['loaded']);
      await drawStrokes(page, digit.strokes);
      const after: PageState = await page.evaluate<PageState>('window.trainfer.settle()');
      assert.equal(after.predictions.mlp?.label, String(digit.label));
      const s = await Session.create({ model: trained.models.mlp }, { intraOpThreads: 1 });
      const logits = Object.values(await s.run({ [s.inputNames[0]!]: new Tensor('float32', [1, 1, 28, 28], Float32Array.from(after.digitInput!)) }))[0]!.data as Float32Array;
      await s.release();
      softmax(logits).forEach((p, i) => assert.ok(Math.abs(p - after.predictions.mlp!.probabilities[i]!) < 1e-3, `mlp class ${i}: webgpu ${after.predictions.mlp!.probabilities[i]} vs node ${p}`));
      assert.deepEqual(log.consoleErrors, []);
      assert.deepEqual(log.foreignRequests, []);
      assert.ok(log.requests.some((u) => /\/assets\/ort-wasm-simd-threaded\.asyncify-[\w-]+\.wasm$/.test(u)), 'the WebGPU build of onnxruntime-web');
    } finally {
      await gpuBrowser.close();
      await gpuUi.close();
      rmSync(gpuDir, { recursive: true, force: true });
    }
  });

  test('without COOP/COEP the page is not cross-origin isolated and runs one WASM thread', async () => {
    const plain = await startUiServer({ modelsDir: dir, port: 0, crossOriginIsolation: false });
    const page = await browser.newPage();
    try {
      const { state, log } = await openPage({ page, url: plain.url });
      assert.equal(state.backend?.crossOriginIsolated, false);
      assert.equal(state.backend?.threads, 1);
      assert.match((await page.textContent('#backend')) ?? '', /1 thread \(not cross-origin isolated/);
      assert.deepEqual(log.consoleErrors, []);
    } finally {
      await page.close();
      await plain.close();
    }
  });

  test('runBrowserBenchmark: p50/p99/throughput per model, download size, no foreign requests', async () => {
    const r = await runBrowserBenchmark({ modelsDir: dir, iterations: 30, warmup: 3 });
    assert.deepEqual(r.models.map((m) => `${m.name}:${m.kind}:${m.precision}`), ['cnn:digits:fp32', 'cnn-int8:digits:int8', 'mlp:digits:fp32', 'mlp-int8:digits:int8', 'spam:text:fp32']);
    for (const m of r.models) {
      assert.equal(m.iterations, 30);
      assert.ok(m.p50Ms > 0 && m.p50Ms <= m.p99Ms && m.p99Ms <= m.maxMs, JSON.stringify(m));
      assert.ok(Math.abs(m.throughputPerS - 1000 / m.meanMs) / m.throughputPerS < 1e-9);
      assert.ok(m.loadMs > 0);
    }
    // int8 files are smaller than their fp32 sources.
    const size = (n: string) => r.models.find((m) => m.name === n)!.bytes;
    assert.ok(size('cnn-int8') < size('cnn') / 2 && size('mlp-int8') < size('mlp') / 2);
    assert.equal(r.backend.crossOriginIsolated, true);
    // The page downloads onnxruntime-web's ~14 MB WASM brotli-compressed (~2.8 MB) and the models.
    assert.ok(r.download.transferredBytes < r.download.decodedBytes / 2, JSON.stringify(r.download));
    assert.ok(r.download.modelBytes >= r.models.reduce((a, m) => a + m.bytes, 0));
    assert.ok(r.models.every((m) => m.bytes > 0));
    assert.deepEqual(r.foreignRequests, []);
    assert.deepEqual(r.consoleErrors, []);
    // The shapes the page fed, so Node can be timed on the same ones; the table puts both side by side.
    const cnn = r.models.find((m) => m.name === 'cnn')!;
    assert.deepEqual(cnn.inputs, { pixels: { dtype: 'float32', dims: [1, 1, 28, 28] } });
    assert.equal(r.models.find((m) => m.name === 'spam')!.inputs.attention_mask?.dtype, 'int64');
    const node = { cnn: await nodeLatency({ file: trained.files.cnn, inputs: cnn.inputs, iterations: 10, warmup: 2 }) };
    assert.ok(node.cnn.iterations === 10 && node.cnn.p50Ms > 0);
    const table = formatBrowserBench(r, node).split('\n');
    assert.match(table[0]!, /^model +precision +size +p50 +p99 +throughput +load +node p50 +node p99 +browser\/node$/);
    assert.match(table.find((l) => l.startsWith('cnn '))!, /\d+\.\d+×$/);
    assert.match(table.find((l) => l.startsWith('spam '))!, /–$/);
  });

  test('benchFilesInBrowser: just the given files (a text model with its tokenizer)', async () => {
    const r = await benchFilesInBrowser({ files: [trained.files.mlpInt8, join(dir, 'spam', 'model.onnx')], iterations: 5, warmup: 1 });
    assert.deepEqual(r.models.map((m) => `${m.name}:${m.kind}`), ['mlp-int8:digits', 'spam:text']);
    assert.ok(r.models.every((m) => m.iterations === 5 && m.p50Ms > 0));
  });
});
