// Hostile requests against a live server: sizes checked before allocation, 64-bit integers and
// non-finite floats carried losslessly in JSON and read back by our client, BYTES kept byte for byte
// (or refused when onnxruntime could not carry them), deep and ragged nesting refused, a request that
// does not arrive in time cut off with 408, and a cap on large bodies in transit.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GraphBuilder } from '../onnx/builder.js';
import { Tensor } from '../onnx/tensor.js';
import { InferenceClient } from './client.js';
import { InferenceError } from './errors.js';
import { addToRepository, mnistMlp } from './example-models.js';
import { decodeInferRequest } from './protocol.js';
import { InferenceServer } from './server.js';
import { bytesEchoModel } from './test-models.js';

let repo: string;
let server: InferenceServer;
let client: InferenceClient;

/** `x: [batch, 3]` float → `neg = -x`; `i: [batch, 3]` int64 → `doubled = 2i`. */
function numbersModel() {
  const g = new GraphBuilder({ name: 'numbers' });
  const x = g.input('x', 'float32', ['batch', 3]);
  const i = g.input('i', 'int64', ['batch', 3]);
  g.output(g.neg(x), 'neg', { dtype: 'float32', shape: ['batch', 3] });
  g.output(g.mul(i, g.constant(Tensor.i64([], [2]))), 'doubled', { dtype: 'int64', shape: ['batch', 3] });
  return g.toModel();
}

before(async () => {
  repo = mkdtempSync(join(tmpdir(), 'trainfer-hostile-'));
  const small = { instances: 1, threadsPerInstance: 1 };
  addToRepository({ repo, name: 'mnist', model: mnistMlp({ seed: 1 }), config: { ...small, maxBatchSize: 8 } });
  addToRepository({ repo, name: 'plain', model: mnistMlp({ seed: 2 }), config: { ...small, maxBatchSize: 0 } });
  addToRepository({ repo, name: 'numbers', model: numbersModel(), config: { ...small, maxBatchSize: 0, allowNonFinite: true } });
  addToRepository({ repo, name: 'bytes', model: bytesEchoModel(), config: { ...small, maxBatchSize: 0 } });
  server = await InferenceServer.start({ repository: repo, port: 0, logLevel: 'silent', processMetrics: false, bodyLimitBytes: 1 << 20, requestTimeoutMs: 500, maxConcurrentUploads: 2 });
  client = new InferenceClient(server.url);
});

after(async () => {
  await server?.close();
  rmSync(repo, { recursive: true, force: true });
});

async function postRaw(path: string, body: Uint8Array | string, headers: Record<string, string> = {}): Promise<{ status: number; error: string; text: string }> {
  const res = await fetch(server.url + path, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  const text = await res.text();
  let error = '';
  try {
    error = String((JSON.parse(text) as { error?: string }).error ?? '');
  } catch {
    // not JSON
  }
  return { status: res.status, error, text };
}

function binaryBody(header: unknown, payload: Uint8Array): { body: Buffer; headers: Record<string, string> } {
  const head = Buffer.from(JSON.stringify(header));
  return { body: Buffer.concat([head, payload]), headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(head.length) } };
}

const is400 = (re: RegExp) => (r: { status: number; error: string; text: string }) => {
  assert.equal(r.status, 400, r.text);
  assert.match(r.error, re);
  assert.doesNotMatch(r.error, /\n/);
};

test('a declared shape is checked against the model, the batch limit and the body before anything is allocated', async () => {
  const huge = (name: string) => ({ inputs: [{ name: 'pixels', shape: [1_000_000_000, 1, 28, 28], datatype: 'FP32', parameters: { binary_data_size: 100 } }], name });
  // 100 bytes declaring 3 TB: a batched model refuses the batch, an unbatched one the byte count
  const b1 = binaryBody(huge('mnist'), new Uint8Array(100));
  is400(/batch size 1000000000 exceeds the model's maxBatchSize 8/)(await postRaw('/v2/models/mnist/infer', b1.body, b1.headers));
  is400(/needs 3136000000000 bytes, binary_data_size is 100/)(await postRaw('/v2/models/plain/infer', b1.body, b1.headers));
  // the same without a model (the client side and `trainfer infer` decode requests too)
  assert.throws(() => decodeInferRequest(huge('x'), new Uint8Array(100)), (e) => e instanceof InferenceError && e.status === 400 && /needs 3136000000000 bytes/.test(e.message));
  // dims whose product is not a safe integer, JSON with far fewer values than declared, BYTES with too few bytes
  const overflow = { inputs: [{ name: 'pixels', shape: [2 ** 40, 2 ** 40, 28, 28], datatype: 'FP32', data: [1] }] };
  is400(/declares more elements than a request can carry/)(await postRaw('/v2/models/plain/infer', JSON.stringify(overflow)));
  is400(/needs 7840000 elements, 'data' has 3/)(await postRaw('/v2/models/plain/infer', JSON.stringify({ inputs: [{ name: 'pixels', shape: [10000, 1, 28, 28], datatype: 'FP32', data: [1, 2, 3] }] })));
  const bytes = binaryBody({ inputs: [{ name: 's', shape: [100_000_000], datatype: 'BYTES', parameters: { binary_data_size: 8 } }] }, new Uint8Array(8));
  is400(/needs 100000000 BYTES elements, at least 400000000 bytes; binary_data_size is 8/)(await postRaw('/v2/models/bytes/infer', bytes.body, bytes.headers));
  // and the server still answers
  assert.deepEqual((await client.infer('mnist', { inputs: { pixels: Tensor.f32([1, 1, 28, 28], new Array(784).fill(0.5)) } })).outputs.logits!.dims, [1, 10]);
});

test('INT64 beyond ±2^53: JSON numbers refused, decimal strings exact both ways; binary exact', async () => {
  const req = (i: unknown[]) => JSON.stringify({ inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP32', data: [0, 0, 0] }, { name: 'i', shape: [1, 3], datatype: 'INT64', data: i }] });
  is400(/element 0 \(100000000000000000000\) of INT64 is beyond ±2\^53/)(await postRaw('/v2/models/numbers/infer', req([1e20, 0, 0])));
  // 9007199254740993 is parsed as 9007199254740992 by any JSON parser: refused, not silently rounded
  is400(/element 1 \(9007199254740992\) of INT64 is beyond ±2\^53.*decimal strings/)(await postRaw('/v2/models/numbers/infer', req([0, 'BIG', 0]).replace('"BIG"', '9007199254740993')));
  is400(/element 2 \("9223372036854775808"\) is not an integer in range for INT64/)(await postRaw('/v2/models/numbers/infer', req([0, 0, '9223372036854775808'])));
  is400(/element 0 \("12x"\) is not an integer \(or a decimal string\)/)(await postRaw('/v2/models/numbers/infer', req(['12x', 0, 0])));
  const ok = await postRaw('/v2/models/numbers/infer', req(['9007199254740993', '-4611686018427387904', 7]));
  assert.equal(ok.status, 200, ok.text);
  const doubled = (JSON.parse(ok.text) as { outputs: { name: string; data: unknown[] }[] }).outputs.find((o) => o.name === 'doubled')!;
  assert.deepEqual(doubled.data, ['18014398509481986', '-9223372036854775808', 14]);
  // our client sends and reads both forms exactly, in JSON and in binary
  const big = Tensor.i64([1, 3], [2n ** 60n + 1n, -(2n ** 61n) - 3n, 5n]);
  for (const binary of [false, true]) {
    const r = await client.infer('numbers', { inputs: { x: Tensor.f32([1, 3], [0, 0, 0]), i: big }, binary });
    assert.deepEqual(Array.from(r.outputs.doubled!.data as BigInt64Array), [2n ** 61n + 2n, -(2n ** 62n) - 6n, 10n], `binary=${binary}`);
  }
});

test('NaN and ±Inf outputs are encoded losslessly in JSON and our client reads them back', async () => {
  const r = await postRaw('/v2/models/numbers/infer', JSON.stringify({ inputs: [
    { name: 'x', shape: [1, 3], datatype: 'FP32', data: ['NaN', 'Infinity', 1.5] },
    { name: 'i', shape: [1, 3], datatype: 'INT64', data: [0, 0, 0] },
  ], outputs: [{ name: 'neg' }] }));
  assert.equal(r.status, 200, r.text);
  assert.deepEqual((JSON.parse(r.text) as { outputs: { data: unknown[] }[] }).outputs[0]!.data, ['NaN', '-Infinity', -1.5]);
  const res = await client.infer('numbers', { inputs: { x: Tensor.f32([1, 3], [-Infinity, NaN, 2]), i: Tensor.i64([1, 3], [0, 0, 0]) }, outputs: ['neg'] });
  assert.deepEqual(Array.from(res.outputs.neg!.data as Float32Array), [Infinity, NaN, -2]);
  is400(/element 0 \("nan"\) is not a number/)(await postRaw('/v2/models/numbers/infer', JSON.stringify({ inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP32', data: ['nan', 0, 0] }, { name: 'i', shape: [1, 3], datatype: 'INT64', data: [0, 0, 0] }] })));
});

test('BYTES are kept byte for byte; bytes onnxruntime would alter are refused, not corrupted', async () => {
  const elements = [Buffer.from([0xef, 0xbb, 0xbf, 0x41]), Buffer.from('é😀', 'utf8'), Buffer.alloc(0), Buffer.from('tab\there', 'utf8')];
  const payload = Buffer.concat(elements.flatMap((e) => [Buffer.from(Uint32Array.of(e.length).buffer), e]));
  const req = (p: Buffer, n: number) => binaryBody({ inputs: [{ name: 's', shape: [n], datatype: 'BYTES', parameters: { binary_data_size: p.length } }], parameters: { binary_data_output: true } }, p);
  const ok = req(payload, elements.length);
  const res = await fetch(`${server.url}/v2/models/bytes/infer`, { method: 'POST', body: ok.body, headers: ok.headers });
  assert.equal(res.status, 200);
  const out = Buffer.from(await res.arrayBuffer());
  const headerLength = Number(res.headers.get('inference-header-content-length'));
  assert.deepEqual(out.subarray(headerLength), payload, 'the echoed BYTES equal the bytes sent');
  const bad = Buffer.from([2, 0, 0, 0, 0xff, 0xfe]);
  const r = req(bad, 1);
  is400(/BYTES element 0 is not valid UTF-8/)(await postRaw('/v2/models/bytes/infer', r.body, r.headers));
  const nul = Buffer.from([3, 0, 0, 0, 0x61, 0x00, 0x62]);
  const withNul = req(nul, 1);
  is400(/BYTES element 0 contains a NUL byte, where onnxruntime would cut the string/)(await postRaw('/v2/models/bytes/infer', withNul.body, withNul.headers));
  is400(/element 0 \("a\\u0000b"\) is not a string without NUL characters/)(await postRaw('/v2/models/bytes/infer', '{"inputs":[{"name":"s","shape":[1],"datatype":"BYTES","data":["a\\u0000b"]}]}'));
  is400(/element 0 \("\\ud800x"\) is not well-formed Unicode/)(await postRaw('/v2/models/bytes/infer', '{"inputs":[{"name":"s","shape":[1],"datatype":"BYTES","data":["\\ud800x"]}]}'));
});

test('deeply nested and ragged data are 400s, never a stack overflow', async () => {
  const deep = `{"inputs":[{"name":"x","shape":[1,3],"datatype":"FP32","data":${'['.repeat(200_000)}${']'.repeat(200_000)}},{"name":"i","shape":[1,3],"datatype":"INT64","data":[0,0,0]}]}`;
  is400(/'data' is nested but does not match shape \[1, 3\]: data\[0\] has 1 elements, expected 3/)(await postRaw('/v2/models/numbers/infer', deep));
  const deepObject = `{"inputs":[{"name":"x","shape":[1,3],"datatype":"FP32","data":[${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)},0,0]},{"name":"i","shape":[1,3],"datatype":"INT64","data":[0,0,0]}]}`;
  is400(/element 0 \(an object\) is not a number/)(await postRaw('/v2/models/numbers/infer', deepObject));
  const deepParams = `{"parameters":${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)},"inputs":[{"name":"x","shape":[1,3],"datatype":"FP32","data":[0,0,0]},{"name":"i","shape":[1,3],"datatype":"INT64","data":[0,0,0]}]}`;
  assert.equal((await postRaw('/v2/models/numbers/infer', deepParams)).status, 200, 'unknown request parameters are ignored, however deep');
  const ragged = (data: unknown) => JSON.stringify({ inputs: [{ name: 'x', shape: [2, 3], datatype: 'FP32', data }, { name: 'i', shape: [2, 3], datatype: 'INT64', data: [0, 0, 0, 0, 0, 0] }] });
  is400(/does not match shape \[2, 3\]: data\[0\] has 2 elements, expected 3/)(await postRaw('/v2/models/numbers/infer', ragged([[1, 2], [3, 4, 5, 6]])));
  is400(/data\[1\] is 3, expected an array of 3/)(await postRaw('/v2/models/numbers/infer', ragged([[1, 2, 3], 3])));
  is400(/: data has 3 elements, expected 2/)(await postRaw('/v2/models/numbers/infer', ragged([[1, 2, 3], [4, 5, 6], []])));
  assert.equal((await postRaw('/v2/models/numbers/infer', ragged([[1, 2, 3], [4, 5, 6]]))).status, 200);
});

/** Opens a raw connection, writes `text`, and resolves with everything the server sent until it closed. */
function rawExchange(text: string, waitMs = 5000): Promise<{ reply: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const url = new URL(server.url);
    const t0 = performance.now();
    const sock = connect(Number(url.port), url.hostname, () => sock.write(text));
    let reply = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no answer within ${waitMs} ms; got '${reply}'`));
    }, waitMs);
    sock.on('data', (b) => (reply += b.toString()));
    sock.on('close', () => {
      clearTimeout(timer);
      resolve({ reply, ms: performance.now() - t0 });
    });
    sock.on('error', () => undefined);
  });
}

test('a request that does not arrive within requestTimeoutMs gets 408 and its connection is closed', async () => {
  const partialBody = await rawExchange('POST /v2/models/mnist/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"inputs":');
  assert.match(partialBody.reply, /^HTTP\/1\.1 408 Request Timeout\r\n/);
  assert.match(partialBody.reply, /"error":"the request did not arrive within 500 ms \(requestTimeoutMs\)"/);
  const partialHeaders = await rawExchange('GET /v2/health/live HTTP/1.1\r\nHost: x\r\nX-Slow: ');
  assert.match(partialHeaders.reply, /^HTTP\/1\.1 408 /);
  assert.equal((await fetch(`${server.url}/v2/health/live`)).status, 200);
});

test('at most maxConcurrentUploads large bodies are received at once; more get 503 at once', async () => {
  const url = new URL(server.url);
  const slow = await Promise.all([0, 1].map(() => new Promise<ReturnType<typeof connect>>((resolve) => {
    const s = connect(Number(url.port), url.hostname, () => {
      s.write('POST /v2/models/mnist/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"inputs":[');
      resolve(s);
    });
    s.on('error', () => undefined);
  })));
  const large = JSON.stringify({ pad: 'x'.repeat(70_000) });
  try {
    // both slow uploads are counted once the server has their headers
    let r = await postRaw('/v2/models/mnist/infer', large);
    for (let i = 0; i < 50 && r.status !== 503; i++) {
      await new Promise((res) => setTimeout(res, 5));
      r = await postRaw('/v2/models/mnist/infer', large);
    }
    assert.equal(r.status, 503, r.text);
    assert.match(r.error, /too many request bodies arriving at once \(maxConcurrentUploads 2\)/);
    assert.equal((await fetch(`${server.url}/v2/health/live`)).status, 200, 'requests without a body are not counted');
    is400(/'inputs' must be a non-empty array/)(await postRaw('/v2/models/mnist/infer', '{}'));
  } finally {
    for (const s of slow) s.destroy();
  }
  let ok = await postRaw('/v2/models/mnist/infer', large);
  for (let i = 0; i < 50 && ok.status === 503; i++) {
    await new Promise((res) => setTimeout(res, 5));
    ok = await postRaw('/v2/models/mnist/infer', large);
  }
  is400(/'inputs' must be a non-empty array/)(ok);
});
