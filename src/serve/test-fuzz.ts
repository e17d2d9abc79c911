/**
 * A seeded generator of malformed Open Inference Protocol requests for the HTTP fuzz test (not part of
 * the package). Every request it makes is wrong by construction — malformed JSON, wrong types, shapes
 * that do not fit the model or the body, bad binary framing, hostile nesting, bad names, unknown routes
 * — so the only right answer is a 4xx. It knows the fuzz server's models: `mnist` (FP32 [-1,1,28,28],
 * maxBatchSize 8, finite inputs only) and `multi` (FP32, BOOL, INT64, FP16 [-1,3] and BYTES [-1]).
 */
import { Rng } from '../util/rng.js';

/** One generated request. */
export interface FuzzRequest {
  kind: string;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
  url: string;
  headers: Record<string, string>;
  body?: Buffer;
}

const DEEP = '@@deeply nested data@@';
const BINARY_KINDS = ['size-mismatch', 'stray-bytes', 'truncated', 'huge-shape', 'bad-header-length', 'header-length-past-body', 'header-length-inside-json',
  'no-header-length', 'bool-value-or-size-type', 'dtype-or-bytes-length', 'rank-or-utf8', 'size-doubled'];
const ENDPOINT_KINDS = ['metadata-bad-name', 'bad-version', 'ready-config-bad-name', 'index-bad-body', 'load-bad-body', 'load-bad-name', 'unload-bad-body',
  'wrong-method', 'unknown-route', 'post-to-get-route', 'infer-bad-model', 'infer-bad-version'];

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** The generator: `next()` gives one malformed request. */
export class MalformedRequests {
  private readonly r: Rng;
  constructor(seed: number, private readonly bodyLimit: number) {
    this.r = Rng.fromSeed(seed);
  }

  private int(n: number): number {
    return Math.floor(this.r.uniform() * n);
  }
  private pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  private chance(p: number): boolean {
    return this.r.uniform() < p;
  }

  /** A valid request for `mnist` or `multi` (mutated afterwards). */
  private valid(): { model: string; req: { [k: string]: Json }; inputs: { [k: string]: Json }[] } {
    const batch = 1 + this.int(3);
    if (this.chance(0.4)) {
      const rows = this.chance(0.8) ? 1 : 2;
      const inputs: { [k: string]: Json }[] = [{ name: 'pixels', shape: [rows, 1, 28, 28], datatype: 'FP32', data: Array.from({ length: rows * 784 }, () => this.int(10) / 10) }];
      return { model: 'mnist', req: { inputs }, inputs };
    }
    const n = batch * 3;
    const inputs: { [k: string]: Json }[] = [
      { name: 'a', shape: [batch, 3], datatype: 'FP32', data: Array.from({ length: n }, () => this.r.uniform()) },
      { name: 'flag', shape: [batch, 3], datatype: 'BOOL', data: Array.from({ length: n }, () => this.chance(0.5)) },
      { name: 'idx', shape: [batch, 3], datatype: 'INT64', data: Array.from({ length: n }, () => this.int(1000)) },
      { name: 'h', shape: [batch, 3], datatype: 'FP16', data: Array.from({ length: n }, () => this.int(8)) },
      { name: 's', shape: [batch], datatype: 'BYTES', data: Array.from({ length: batch }, () => 'w'.repeat(this.int(5))) },
    ];
    return { model: 'multi', req: { inputs }, inputs };
  }

  private post(kind: string, url: string, body: Buffer | string, headers: Record<string, string> = {}): FuzzRequest {
    return { kind, method: 'POST', url, headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? Buffer.from(body) : body };
  }

  /** The next malformed request. */
  next(): FuzzRequest {
    const roll = this.int(100);
    if (roll < 12) return this.notJson();
    if (roll < 20) return this.wrongStructure();
    if (roll < 36) return this.badHeader();
    if (roll < 52) return this.badData();
    if (roll < 60) return this.badNames();
    if (roll < 78) return this.badBinary();
    if (roll < 98) return this.otherEndpoint();
    return this.oversized();
  }

  private notJson(): FuzzRequest {
    const { model, req } = this.valid();
    const text = JSON.stringify(req);
    const variant = this.int(4);
    let body: Buffer;
    if (variant === 0) body = Buffer.from(text.slice(0, 1 + this.int(text.length - 1))); // any proper prefix of an object is invalid
    else if (variant === 1) body = Buffer.from(Array.from({ length: 1 + this.int(512) }, () => this.int(256)));
    else if (variant === 2) body = Buffer.from(`${text}${this.pick(['x', ',', '}', ' {}', '\u0000'])}`);
    else body = Buffer.from(this.pick(['', ' ', '{', '{"inputs": [', '[1,2', 'nul', '{"inputs": NaN}', "{'inputs': []}"]));
    return this.post(`json:not-json:${variant}`, `/v2/models/${model}/infer`, body);
  }

  private wrongStructure(): FuzzRequest {
    const { model, req } = this.valid();
    const variant = this.int(8);
    let body: Json;
    switch (variant) {
      case 0: body = this.pick<Json>([[], [req], 1, 'inputs', null, true]); break;
      case 1: body = { ...req, inputs: this.pick<Json>([{}, 'x', [], null, 3, [1, 2]]) }; break;
      case 2: body = { ...req, id: this.pick<Json>([1, {}, [], true]) }; break;
      case 3: body = { ...req, parameters: this.pick<Json>([[], 'x', 1, true]) }; break;
      case 4: body = { ...req, outputs: this.pick<Json>([{}, 'x', [1], [{ name: 5 }], [{}], [{ name: 'logits', parameters: [] }]]) }; break;
      case 5: body = { ...req, parameters: { binary_data_output: this.pick<Json>(['yes', 1, null, {}]) } }; break;
      case 6: body = { inputs: [this.pick<Json>([1, 'x', null, [], {}, { name: 1 }])] }; break;
      default: body = { ...req, outputs: [{ name: model === 'mnist' ? 'logits' : 'signed', parameters: { binary_data: this.pick<Json>(['true', 1, {}]) } }] };
    }
    return this.post(`json:structure:${variant}`, `/v2/models/${model}/infer`, JSON.stringify(body));
  }

  private badHeader(): FuzzRequest {
    const { model, req, inputs } = this.valid();
    const input = this.pick(inputs);
    const shape = input.shape as number[];
    const variant = this.int(12);
    switch (variant) {
      case 0: input.name = this.pick<Json>([1, null, [], {}]); break;
      case 1: delete input.name; break;
      case 2: input.datatype = this.pick<Json>(['FP99', 'fp32', '', 'TYPE_FP32', 7, null, 'x'.repeat(1000)]); break;
      case 3: input.datatype = this.pick(['FP64', 'INT32', 'UINT8', 'BF16', 'INT8'].filter((d) => d !== input.datatype)); break;
      case 4: input.shape = this.pick<Json>([[-1, ...shape.slice(1)], [1.5, ...shape.slice(1)], ['1', ...shape.slice(1)], 'x', null, {}]); break;
      case 5: input.shape = Array.from({ length: 33 + this.int(100) }, () => 1); break;
      case 6: input.shape = [...shape, 1]; break; // wrong rank
      case 7: input.shape = shape.length > 1 ? [shape[0]!, ...shape.slice(1).map((d) => d + 1 + this.int(5))] : [shape[0]! + 1 + this.int(4)]; break;
      case 8: input.shape = [2 ** 40 + this.int(1000), ...shape.slice(1)]; break;
      case 9: input.shape = [9 + this.int(1e9), ...shape.slice(1)]; break; // over maxBatchSize / count
      case 10: input.parameters = { binary_data_size: this.pick<Json>([-1, 1.5, '8', null, 2 ** 60]) }; break;
      default: input.parameters = { binary_data_size: 4 }; break; // both data and binary_data_size
    }
    return this.post(`json:header:${variant}`, `/v2/models/${model}/infer`, JSON.stringify(req));
  }

  private nest(depth: number, leaf: Json): Json {
    let v: Json = leaf;
    for (let i = 0; i < depth; i++) v = [v];
    return v;
  }

  private badData(): FuzzRequest {
    const { model, req, inputs } = this.valid();
    const input = this.pick(inputs);
    const data = input.data as Json[];
    const variant = this.int(12);
    switch (variant) {
      case 0: data.splice(this.int(data.length), 1 + this.int(3)); break;
      case 1: data.push(...data.slice(0, 1 + this.int(3))); break;
      case 2: data[this.int(data.length)] = this.pick<Json>([{}, null, [1], input.datatype === 'BYTES' ? 7 : 'x', input.datatype === 'BOOL' ? 1 : true]); break;
      case 3: input.data = DEEP; break; // replaced in the text: JSON.stringify itself would overflow
      case 4: input.data = [data.slice(0, 2), data.slice(2)]; break; // nesting that does not follow the shape
      case 5: input.data = this.pick<Json>([{}, null, { v: 'x' }]); break;
      case 6: {
        const bad: Record<string, Json[]> = { INT64: [1e20, 2 ** 53, -(2 ** 60), 1.5, '12x', '99999999999999999999'], BYTES: [5, null], BOOL: ['true', 0] };
        data[this.int(data.length)] = this.pick(bad[input.datatype as string] ?? ['NaN', 'Infinity', '-Infinity', 'nan', '1e999']);
        break;
      }
      case 7: input.data = [this.nest(3 + this.int(10), 0)]; break;
      case 8: data[this.int(data.length)] = this.nest(1 + this.int(20), { a: { b: [1] } }); break;
      case 9: input.data = [[data]]; break; // extra levels
      case 10: input.data = data.map((v) => (typeof v === 'string' ? 5 : 'str')); break;
      default: if (input.datatype === 'BYTES') input.data = ['\ud800', ...data.slice(1)]; else data[0] = input.datatype === 'BOOL' ? 'true' : input.datatype === 'INT64' ? '1.5' : '1'; break;
    }
    const depth = 1000 + this.int(50_000);
    const text = JSON.stringify(req).replace(JSON.stringify(DEEP), `${'['.repeat(depth)}1${']'.repeat(depth)}`);
    return this.post(`json:data:${variant}`, `/v2/models/${model}/infer`, text);
  }

  private badNames(): FuzzRequest {
    const { model, req, inputs } = this.valid();
    const variant = this.int(6);
    switch (variant) {
      case 0: inputs.push({ name: 'extra', shape: [1], datatype: 'FP32', data: [1] }); break;
      case 1: if (inputs.length > 1) inputs.splice(this.int(inputs.length), 1); else inputs[0]!.name = 'pixel'; break;
      case 2: inputs.push({ ...inputs[0]! }); break;
      case 3: req.outputs = [{ name: this.pick(['probs', '', 'x'.repeat(300), 'logits ']) }]; break;
      case 4: req.outputs = model === 'mnist' ? [{ name: 'logits' }, { name: 'logits' }] : [{ name: 'echo' }, { name: 'echo' }]; break;
      default: inputs[0]!.name = inputs[0]!.name + '\u0000'; break;
    }
    return this.post(`json:names:${variant}`, `/v2/models/${model}/infer`, JSON.stringify(req));
  }

  private badBinary(): FuzzRequest {
    const mnist = this.chance(0.5);
    const batch = 1 + this.int(2);
    let inputs: { [k: string]: Json }[];
    let parts: Buffer[];
    if (mnist) {
      const bytes = batch * 784 * 4;
      inputs = [{ name: 'pixels', shape: [batch, 1, 28, 28], datatype: 'FP32', parameters: { binary_data_size: bytes } }];
      parts = [Buffer.from(new Float32Array(batch * 784).fill(0.5).buffer)];
    } else {
      const strs = Array.from({ length: batch }, (_, i) => Buffer.from(`s${i}`));
      const sBytes = Buffer.concat(strs.flatMap((s) => [Buffer.from(Uint32Array.of(s.length).buffer), s]));
      inputs = [
        { name: 'a', shape: [batch, 3], datatype: 'FP32', parameters: { binary_data_size: batch * 12 } },
        { name: 'flag', shape: [batch, 3], datatype: 'BOOL', parameters: { binary_data_size: batch * 3 } },
        { name: 'idx', shape: [batch, 3], datatype: 'INT64', parameters: { binary_data_size: batch * 24 } },
        { name: 'h', shape: [batch, 3], datatype: 'FP16', parameters: { binary_data_size: batch * 6 } },
        { name: 's', shape: [batch], datatype: 'BYTES', parameters: { binary_data_size: sBytes.length } },
      ];
      parts = [Buffer.alloc(batch * 12), Buffer.alloc(batch * 3), Buffer.alloc(batch * 24), Buffer.alloc(batch * 6), sBytes];
    }
    const variant = this.int(12);
    const k = this.int(inputs.length);
    const params = inputs[k]!.parameters as { [key: string]: Json };
    let headerLength: string | undefined;
    switch (variant) {
      case 0: params.binary_data_size = (params.binary_data_size as number) + this.pick([-1, 1, 4, -4]); break; // claims ≠ bytes
      case 1: parts.push(Buffer.alloc(1 + this.int(16))); break; // stray bytes
      case 2: parts[k] = parts[k]!.subarray(0, Math.max(0, parts[k]!.length - 1 - this.int(3))); break;
      case 3: inputs[k]!.shape = [1_000_000_000, ...(inputs[k]!.shape as number[]).slice(1)]; break;
      case 4: headerLength = this.pick(['abc', '-1', '1e3', '99999999999999999999', '', ' 12', '0x10']); break;
      case 5: headerLength = String(10_000_000 + this.int(1000)); break;
      case 6: headerLength = 'CUT'; break; // inside the JSON
      case 7: headerLength = 'NONE'; break; // binary body parsed as JSON
      case 8: if (mnist) params.binary_data_size = 'x'; else parts[1] = Buffer.alloc(parts[1]!.length, 2); break; // BOOL bytes > 1
      case 9: if (mnist) inputs[0]!.datatype = 'FP16'; else parts[4] = Buffer.concat([Buffer.from([200, 0, 0, 0]), Buffer.from('x')]); break; // BYTES length past its data
      case 10: if (mnist) inputs[0]!.shape = [batch, 1, 28]; else parts[4] = Buffer.from([1, 0, 0, 0, 0xff, ...parts[4]!.subarray(5)]); break;
      default: params.binary_data_size = (params.binary_data_size as number) * 2; break;
    }
    // fix up the byte counts of parts the variant did not target so that only one thing is wrong
    const head = Buffer.from(JSON.stringify({ inputs, ...(this.chance(0.5) ? { parameters: { binary_data_output: true } } : {}) }));
    let hl = String(head.length);
    if (headerLength === 'CUT') hl = String(1 + this.int(head.length - 2));
    else if (headerLength !== undefined && headerLength !== 'NONE') hl = headerLength;
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
    if (headerLength !== 'NONE') headers['inference-header-content-length'] = hl;
    return this.post(`binary:${BINARY_KINDS[variant]}`, `/v2/models/${mnist ? 'mnist' : 'multi'}/infer`, Buffer.concat([head, ...parts]), headers);
  }

  private badName(): string {
    return this.pick(['nope', 'mnist2', '..', '%2e%2e', 'a%20b', 'x'.repeat(200), '%00', '-', '.hidden', 'mnist%2F1', encodeURIComponent('ünï')]);
  }

  private otherEndpoint(): FuzzRequest {
    const variant = this.int(12);
    const model = this.pick(['mnist', 'multi']);
    const kind = `endpoint:${ENDPOINT_KINDS[variant]}`;
    const get = (url: string): FuzzRequest => ({ kind, method: 'GET', url, headers: {} });
    switch (variant) {
      case 0: return get(`/v2/models/${this.badName()}`);
      case 1: return get(`/v2/models/${model}/versions/${this.pick(['0', '2', 'abc', '-1', '1.0', '99999999999999999999'])}${this.pick(['', '/ready', '/config'])}`);
      case 2: return get(`/v2/models/${this.badName()}/${this.pick(['ready', 'config'])}`);
      case 3: return this.post(kind, '/v2/repository/index', this.pick(['{', '[]', '1', '"x"', '{"ready": "yes"}', '{"ready": 1}', 'null']));
      case 4: return this.post(kind, `/v2/repository/models/${this.pick([model, this.badName()])}/load`, this.pick(['{"parameters": {}}', '{"parameters": {"config": "{}"}}', '{', '[1]']));
      case 5: return this.post(kind, `/v2/repository/models/${this.badName()}/load`, '');
      case 6: return this.post(kind, `/v2/repository/models/${this.pick([model, this.badName()])}/unload`, this.pick(['{', '[]', '"x"', '5']));
      case 7: return { kind, method: this.pick(['PUT', 'DELETE', 'PATCH'] as const), url: this.pick(['/v2', `/v2/models/${model}`, `/v2/models/${model}/infer`, '/metrics', '/v2/health/live']), headers: {} };
      case 8: return get(this.pick([`/v2/models/${model}/infer`, '/v2/repository/index', '/v2/health', '/v2/healthz', '/v3', `/v2/models/${model}/versions`, '/%ff', '/v2/models//infer']));
      case 9: return this.post(kind, this.pick(['/metrics', '/v2', '/v2/health/ready', `/v2/models/${model}`, `/v2/models/${model}/ready`]), '{}');
      case 10: return this.post(kind, `/v2/models/${this.badName()}/infer`, JSON.stringify(this.valid().req));
      default: return this.post(kind, `/v2/models/${model}/versions/${this.pick(['7', 'x', '0'])}/infer`, JSON.stringify(this.valid().req));
    }
  }

  private oversized(): FuzzRequest {
    const { model } = this.valid();
    return this.post('oversized', `/v2/models/${model}/infer`, Buffer.alloc(this.bodyLimit + 1 + this.int(1000), 0x20));
  }
}
