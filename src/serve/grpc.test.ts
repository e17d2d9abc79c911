// gRPC conformance (inference.GRPCInferenceService) with a client built from the protocol's .proto, in
// both front-end modes (the main thread alone, and 2 HTTP worker threads sharing the gRPC socket):
// every RPC, raw and typed contents for every datatype family, answers equal to onnxruntime's and to
// REST's, the same bad-input cases REST refuses answered INVALID_ARGUMENT / NOT_FOUND with one-line
// details while good calls beside them succeed, the repository extension, and the shared metrics.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GraphBuilder } from '../onnx/builder.js';
import { Tensor } from '../onnx/tensor.js';
import { Session } from '../runtime/session.js';
import { InferenceClient } from './client.js';
import { addToRepository, mnistMlp } from './example-models.js';
import { GrpcInferenceClient } from './grpc/client.js';
import { InferenceServer } from './server.js';

function multiModel() {
  const g = new GraphBuilder({ name: 'multi' });
  const a = g.input('a', 'float32', ['batch', 3]);
  const flag = g.input('flag', 'bool', ['batch', 3]);
  const idx = g.input('idx', 'int64', ['batch', 3]);
  const s = g.input('s', 'string', ['batch']);
  g.output(g.where(flag, a, g.neg(a)), 'signed', { dtype: 'float32', shape: ['batch', 3] });
  g.output(g.mul(idx, g.constant(Tensor.i64([], [2]))), 'doubled', { dtype: 'int64', shape: ['batch', 3] });
  g.output(g.identity(s), 'echo', { dtype: 'string', shape: ['batch'] });
  return g.toModel();
}

let repo: string;
before(() => {
  repo = mkdtempSync(join(tmpdir(), 'trainfer-grpc-'));
  addToRepository({ repo, name: 'mnist', model: mnistMlp({ seed: 3 }), config: { instances: 1, maxBatchSize: 8 } });
  addToRepository({ repo, name: 'multi', model: multiModel(), config: { instances: 1, maxBatchSize: 0 } });
});
after(() => rmSync(repo, { recursive: true, force: true }));

const x = Tensor.f32([2, 1, 28, 28], Array.from({ length: 1568 }, (_, i) => (i % 11) / 11));

for (const httpWorkers of [0, 2]) {
  describe(`gRPC with httpWorkers ${httpWorkers}`, () => {
    let server: InferenceServer;
    let client: GrpcInferenceClient;
    before(async () => {
      server = await InferenceServer.start({ repository: repo, port: 0, grpcPort: 0, httpWorkers, logLevel: 'silent', processMetrics: false, bodyLimitBytes: 1 << 20 });
      client = new GrpcInferenceClient(server.grpcAddress!);
    });
    after(async () => {
      client?.close();
      await server?.close();
    });

    test('health, server and model metadata, readiness', async () => {
      assert.equal(await client.live(), true);
      assert.equal(await client.ready(), true);
      const md = await client.serverMetadata();
      assert.equal(md.name, 'trainfer');
      assert.ok(md.extensions.includes('model_repository'));
      assert.deepEqual(await client.modelMetadata('mnist'), await new InferenceClient(server.url).modelMetadata('mnist'));
      assert.equal(await client.modelReady('mnist'), true);
      assert.equal(await client.modelReady('mnist', '1'), true);
      await assert.rejects(client.modelReady('nope'), (e: Error & { status?: number }) => e.status === 404 && /NOT_FOUND: unknown model 'nope'/.test(e.message));
    });

    test('ModelInfer (raw contents) equals onnxruntime and REST, output selection and id echoed', async () => {
      const s = await Session.create({ path: join(repo, 'mnist', '1', 'model.onnx') }, { intraOpThreads: 1 });
      const want = (await s.run({ pixels: x })).logits!;
      await s.release();
      const r = await client.infer('mnist', { inputs: { pixels: x }, id: 'abc', outputs: ['logits'] });
      assert.equal(r.id, 'abc');
      assert.equal(r.modelVersion, '1');
      assert.deepEqual(r.outputs.logits!.dims, [2, 10]);
      assert.deepEqual(Array.from(r.outputs.logits!.data as Float32Array), Array.from(want.data as Float32Array));
      const rest = await new InferenceClient(server.url).infer('mnist', { inputs: { pixels: x }, binary: true });
      assert.deepEqual(Array.from(r.outputs.logits!.data as Float32Array), Array.from(rest.outputs.logits!.data as Float32Array));
    });

    test('every datatype family raw, and typed contents (fp32, bool, int64, bytes)', async () => {
      const inputs = {
        a: Tensor.f32([2, 3], [1, 2, 3, 4, 5, 6]),
        flag: new Tensor('bool', [2, 3], Uint8Array.from([1, 0, 1, 0, 1, 0])),
        idx: Tensor.i64([2, 3], [1n, -2n, 9007199254740993n, 4n, 5n, 6n]),
        s: new Tensor('string', [2], ['héllo', '']),
      };
      const raw = await client.infer('multi', { inputs });
      assert.deepEqual(Array.from(raw.outputs.signed!.data as Float32Array), [1, -2, 3, -4, 5, -6]);
      assert.deepEqual(Array.from(raw.outputs.doubled!.data as BigInt64Array), [2n, -4n, 18014398509481986n, 8n, 10n, 12n]);
      assert.deepEqual(raw.outputs.echo!.data, ['héllo', '']);
      const typed = await client.call<{ outputs: { name: string }[]; raw_output_contents: Buffer[] }>('ModelInfer', {
        model_name: 'multi',
        inputs: [
          { name: 'a', datatype: 'FP32', shape: ['1', '3'], contents: { fp32_contents: [1.5, 2, 3] } },
          { name: 'flag', datatype: 'BOOL', shape: ['1', '3'], contents: { bool_contents: [true, false, true] } },
          { name: 'idx', datatype: 'INT64', shape: ['1', '3'], contents: { int64_contents: ['9007199254740993', '1', '2'] } },
          { name: 's', datatype: 'BYTES', shape: ['1'], contents: { bytes_contents: [Buffer.from('x')] } },
        ],
      });
      assert.deepEqual(typed.outputs.map((o) => o.name), ['signed', 'doubled', 'echo']);
      assert.deepEqual(Array.from(new Float32Array(Uint8Array.from(typed.raw_output_contents[0]!).buffer)), [1.5, -2, 3]);
      assert.equal(new BigInt64Array(Uint8Array.from(typed.raw_output_contents[1]!).buffer)[0], 18014398509481986n);
    });

    test('bad input: the cases REST refuses get INVALID_ARGUMENT / NOT_FOUND, one line, and good calls beside them succeed', async () => {
      const pixels = (shape: string[], bytes: number) => ({ model_name: 'mnist', inputs: [{ name: 'pixels', datatype: 'FP32', shape }], raw_input_contents: [Buffer.alloc(bytes)] });
      const cases: [string, unknown, number, RegExp][] = [
        ['unknown model', { model_name: 'nope', inputs: [] }, 404, /unknown model 'nope'/],
        ['unknown version', { ...pixels(['1', '1', '28', '28'], 3136), model_version: '7' }, 404, /no version '7'/],
        ['bad model name', { model_name: '../etc', inputs: [] }, 400, /not a plain directory name/],
        ['raw size mismatch', pixels(['1', '1', '28', '28'], 100), 400, /needs 3136 bytes/],
        ['wrong shape', pixels(['1', '784'], 3136), 400, /shape/],
        ['wrong datatype', { model_name: 'mnist', inputs: [{ name: 'pixels', datatype: 'INT32', shape: ['1', '1', '28', '28'] }], raw_input_contents: [Buffer.alloc(3136)] }, 400, /datatype|INT32/],
        ['unknown datatype', { model_name: 'mnist', inputs: [{ name: 'pixels', datatype: 'FP99', shape: ['1'], contents: {} }] }, 400, /FP99/],
        ['missing input', { model_name: 'mnist', inputs: [] }, 400, /inputs/],
        ['unknown input', { model_name: 'mnist', inputs: [{ name: 'zzz', datatype: 'FP32', shape: ['1'] }], raw_input_contents: [Buffer.alloc(4)] }, 400, /zzz/],
        ['raw count mismatch', { model_name: 'mnist', inputs: [{ name: 'pixels', datatype: 'FP32', shape: ['1', '1', '28', '28'] }], raw_input_contents: [Buffer.alloc(3136), Buffer.alloc(4)] }, 400, /raw_input_contents has 2 entries for 1 inputs/],
        ['raw and typed mixed', { model_name: 'mnist', inputs: [{ name: 'pixels', datatype: 'FP32', shape: ['1', '1', '28', '28'], contents: { fp32_contents: [1] } }], raw_input_contents: [Buffer.alloc(3136)] }, 400, /one or the other/],
        ['contents in the wrong field', { model_name: 'mnist', inputs: [{ name: 'pixels', datatype: 'FP32', shape: ['1', '1', '28', '28'], contents: { int_contents: [1] } }] }, 400, /fp32_contents/],
        ['typed element count', { model_name: 'mnist', inputs: [{ name: 'pixels', datatype: 'FP32', shape: ['1', '1', '28', '28'], contents: { fp32_contents: [1, 2] } }] }, 400, /784|elements/],
        ['NaN input', { model_name: 'mnist', inputs: [{ name: 'pixels', datatype: 'FP32', shape: ['1', '1', '28', '28'] }], raw_input_contents: [Buffer.from(new Float32Array(784).fill(NaN).buffer)] }, 400, /NaN/],
        ['negative dim', pixels(['-1', '1', '28', '28'], 3136), 400, /shape|dim/],
        ['huge dim', pixels(['99999999999999999', '1', '28', '28'], 3136), 400, /shape|dim|large/],
        ['unknown output', { ...pixels(['1', '1', '28', '28'], 3136), outputs: [{ name: 'nope' }] }, 400, /nope/],
        ['BYTES not UTF-8', { model_name: 'multi', inputs: [{ name: 'a', datatype: 'FP32', shape: ['1', '3'], contents: { fp32_contents: [1, 2, 3] } }, { name: 'flag', datatype: 'BOOL', shape: ['1', '3'], contents: { bool_contents: [true, true, true] } }, { name: 'idx', datatype: 'INT64', shape: ['1', '3'], contents: { int64_contents: ['1', '2', '3'] } }, { name: 's', datatype: 'BYTES', shape: ['1'], contents: { bytes_contents: [Buffer.from([0xff, 0xfe])] } }] }, 400, /UTF-8/],
        ['message over the limit', pixels(['1', '1', '28', '28'], 2 << 20), 413, /RESOURCE_EXHAUSTED/],
      ];
      const good = () => client.infer('mnist', { inputs: { pixels: x } });
      const outcomes = await Promise.all(cases.map(async ([name, req, status, re]) => {
        const [bad, ok] = await Promise.allSettled([client.call('ModelInfer', req), good()]);
        return { name, status, re, bad, ok };
      }));
      for (const o of outcomes) {
        assert.equal(o.ok.status, 'fulfilled', `${o.name}: the good call beside it failed`);
        assert.equal(o.bad.status, 'rejected', `${o.name}: accepted`);
        const e = (o.bad as PromiseRejectedResult).reason as Error & { status: number };
        assert.equal(e.status, o.status, `${o.name}: ${e.message}`);
        assert.match(e.message, o.re, o.name);
        assert.doesNotMatch(e.message, /\n/, o.name);
        assert.ok(!e.message.includes(repo), `${o.name}: leaks the repository path`);
      }
      assert.equal(await client.ready(), true);
      assert.equal(server.repository.loaded().reduce((n, v) => n + v.pool.restarts, 0), 0);
    });

    test('repository extension and shared metrics', async () => {
      const index = await client.repositoryIndex();
      assert.deepEqual(index.map((m) => `${m.name}:${m.state}`).sort(), ['mnist:READY', 'multi:READY']);
      await client.unloadModel('multi');
      await assert.rejects(client.infer('multi', { inputs: {} }), (e: Error & { status?: number }) => e.status === 404);
      assert.deepEqual((await client.repositoryIndex({ ready: true })).map((m) => m.name), ['mnist']);
      await client.loadModel('multi');
      await assert.rejects(client.call('RepositoryModelLoad', { model_name: 'multi', parameters: { config: { string_param: '{}' } } }), /not supported/);
      const rest = new InferenceClient(server.url);
      const count = async () => Number(/^trainfer_inference_request_success\{model="mnist",version="1"\} (\d+)/m.exec(await rest.metrics())?.[1] ?? 0);
      const before = await count();
      await Promise.all(Array.from({ length: 10 }, () => client.infer('mnist', { inputs: { pixels: x } })));
      assert.equal(await count(), before + 10);
    });
  });
}
