// Tests for the protocol codec: JSON (flat and nested) and binary decoding of every datatype, round
// trips through the client's request builder, and the 400s for malformed tensors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../onnx/tensor.js';
import { floatToHalf } from '../onnx/dtype.js';
import { InferenceError } from './errors.js';
import { buildRequest } from './client.js';
import { DATATYPES, decodeInferRequest, decodeInferResponse, encodeInferResponse, firstNonFinite, parseJson, splitBody, tensorFromJson, tensorToBinary, tensorToJson } from './protocol.js';

const status400 = (re: RegExp) => (e: unknown) => e instanceof InferenceError && e.status === 400 && re.test(e.message) && !e.message.includes('\n');

test('JSON data: flat and nested give the same tensor; every datatype decodes', () => {
  const flat = tensorFromJson('x', 'float32', [2, 2], [1, 2, 3, 4.5]);
  const nested = tensorFromJson('x', 'float32', [2, 2], [[1, 2], [3, 4.5]]);
  assert.deepEqual(Array.from(flat.data as Float32Array), [1, 2, 3, 4.5]);
  assert.deepEqual(nested.data, flat.data);
  assert.deepEqual(Array.from(tensorFromJson('b', 'bool', [3], [true, false, true]).data as Uint8Array), [1, 0, 1]);
  assert.deepEqual(tensorFromJson('s', 'string', [2], ['ab', 'ç']).data, ['ab', 'ç']);
  assert.deepEqual(Array.from(tensorFromJson('i', 'int64', [2], [-3, 2 ** 40]).data as BigInt64Array), [-3n, 2n ** 40n]);
  assert.deepEqual(Array.from(tensorFromJson('h', 'float16', [2], [1, -2]).data as Uint16Array), [floatToHalf(1), floatToHalf(-2)]);
  assert.deepEqual(tensorFromJson('bf', 'bfloat16', [1], [1.5]).toNumbers(), [1.5]);
  for (const [dtype, v] of [['uint8', 255], ['int8', -128], ['uint16', 65535], ['int16', -1], ['uint32', 4e9], ['int32', -2e9], ['uint64', 7], ['float64', 0.1]] as const) {
    assert.deepEqual(tensorFromJson('v', dtype, [1], [v]).toNumbers(), [v], dtype);
  }
  assert.equal(Object.keys(DATATYPES).length, 14);
});

test('JSON data errors: count, element type, integer range', () => {
  assert.throws(() => tensorFromJson('x', 'float32', [2, 2], [1, 2, 3]), status400(/input 'x': shape \[2, 2\] needs 4 elements, 'data' has 3/));
  assert.throws(() => tensorFromJson('x', 'float32', [1], ['1']), status400(/element 0 \("1"\) is not a number .*for FP32/));
  assert.throws(() => tensorFromJson('x', 'int8', [1], [200]), status400(/not an integer in range for INT8/));
  assert.throws(() => tensorFromJson('x', 'int32', [1], [1.5]), status400(/INT32/));
  assert.throws(() => tensorFromJson('x', 'bool', [1], [1]), status400(/true or false/));
  assert.throws(() => tensorFromJson('x', 'string', [1], [3]), status400(/a string/));
});

test('binary round trip of every datatype through the request builder', () => {
  const inputs: Record<string, Tensor> = {
    f32: Tensor.f32([2, 3], [1, 2, 3, 4, 5, 6]),
    f64: Tensor.f64([1], [Math.PI]),
    i64: Tensor.i64([2], [-(2n ** 60n), 5n]),
    h: new Tensor('float16', [2], Uint16Array.from([floatToHalf(0.5), floatToHalf(-3)])),
    b: new Tensor('bool', [3], Uint8Array.from([1, 0, 1])),
    s: new Tensor('string', [2], ['hello', 'wörld']),
    u8: new Tensor('uint8', [2], Uint8Array.from([0, 255])),
  };
  const req = buildRequest({ inputs, binary: true, id: 'r1' });
  const body = req.body as Uint8Array;
  const { json, binary } = splitBody(body, req.headers['inference-header-content-length']);
  const { request, tensors } = decodeInferRequest(parseJson(json), binary);
  assert.equal(request.id, 'r1');
  for (const [name, t] of Object.entries(inputs)) {
    const got = tensors.get(name)!;
    assert.equal(got.dtype, t.dtype, name);
    assert.deepEqual(got.dims, t.dims, name);
    assert.deepEqual(Array.isArray(got.data) ? got.data : Array.from(got.data as ArrayLike<unknown>), Array.isArray(t.data) ? t.data : Array.from(t.data as ArrayLike<unknown>), name);
  }
  // BYTES: 4-byte little-endian length then the bytes
  assert.deepEqual(Array.from(tensorToBinary(new Tensor('string', [1], ['ab']))), [2, 0, 0, 0, 97, 98]);
});

test('binary request errors: sizes, stray bytes, bad header length', () => {
  const head = (o: unknown) => Buffer.from(JSON.stringify(o));
  const input = (size: number) => ({ inputs: [{ name: 'x', shape: [2], datatype: 'FP32', parameters: { binary_data_size: size } }] });
  assert.throws(() => decodeInferRequest(input(8), new Uint8Array(4)), status400(/runs past the end of the body/));
  assert.throws(() => decodeInferRequest(input(4), new Uint8Array(4)), status400(/needs 8 bytes, binary_data_size is 4/));
  assert.throws(() => decodeInferRequest(input(8), new Uint8Array(12)), status400(/4 bytes of binary data that no input claims/));
  assert.throws(() => splitBody(head({}), '999'), status400(/Inference-Header-Content-Length "999"/));
  assert.throws(() => splitBody(head({}), 'abc'), status400(/Inference-Header-Content-Length/));
  const bytes = { inputs: [{ name: 's', shape: [1], datatype: 'BYTES', parameters: { binary_data_size: 5 } }] };
  assert.throws(() => decodeInferRequest(bytes, Uint8Array.from([9, 0, 0, 0, 1])), status400(/runs past its binary data/));
});

test('request structure errors are one-line 400s', () => {
  assert.throws(() => parseJson(Buffer.from('{"inputs": [')), status400(/^malformed JSON/));
  assert.throws(() => decodeInferRequest([], new Uint8Array()), status400(/must be a JSON object/));
  assert.throws(() => decodeInferRequest({ inputs: [] }, new Uint8Array()), status400(/'inputs' must be a non-empty array/));
  assert.throws(() => decodeInferRequest({ inputs: [{ name: 'x', shape: [1], datatype: 'FP99', data: [1] }] }, new Uint8Array()), status400(/unknown datatype "FP99"/));
  assert.throws(() => decodeInferRequest({ inputs: [{ name: 'x', shape: [-1], datatype: 'FP32', data: [1] }] }, new Uint8Array()), status400(/'shape' must be an array of at most 32 non-negative integers/));
  assert.throws(() => decodeInferRequest({ inputs: [{ name: 'x', shape: [1], datatype: 'FP32' }] }, new Uint8Array()), status400(/no 'data'/));
  const twice = { name: 'x', shape: [1], datatype: 'FP32', data: [1] };
  assert.throws(() => decodeInferRequest({ inputs: [twice, twice] }, new Uint8Array()), status400(/appears twice/));
  assert.throws(() => decodeInferRequest({ id: 3, inputs: [twice] }, new Uint8Array()), status400(/'id' must be a string/));
});

test('non-finite detection covers FP32, FP64, FP16 and BF16', () => {
  assert.equal(firstNonFinite(Tensor.f32([3], [1, Infinity, 2])), 1);
  assert.equal(firstNonFinite(Tensor.f64([2], [0, NaN])), 1);
  assert.equal(firstNonFinite(new Tensor('float16', [2], Uint16Array.from([floatToHalf(1), 0x7e00]))), 1);
  assert.equal(firstNonFinite(new Tensor('bfloat16', [2], Uint16Array.from([0x7f80, 0]))), 0);
  assert.equal(firstNonFinite(Tensor.f32([2], [1, 2])), -1);
});

test('responses: JSON and binary outputs decode back to the same tensors', () => {
  const y = Tensor.f32([1, 3], [0.25, -1, 7]);
  const flag = new Tensor('bool', [2], Uint8Array.from([0, 1]));
  const bin = tensorToBinary(y);
  const { body, headerLength } = encodeInferResponse({ model_name: 'm', model_version: '1', outputs: [
    { name: 'y', datatype: 'FP32', shape: [1, 3], parameters: { binary_data_size: bin.byteLength } },
    { name: 'flag', datatype: 'BOOL', shape: [2], data: tensorToJson(flag) },
  ] }, [bin]);
  assert.ok(headerLength! < body.length);
  const { response, tensors } = decodeInferResponse(body, String(headerLength));
  assert.equal(response.model_name, 'm');
  assert.deepEqual(Array.from(tensors.get('y')!.data as Float32Array), [0.25, -1, 7]);
  assert.deepEqual(tensorToJson(tensors.get('flag')!), [false, true]);
});
