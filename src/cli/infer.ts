/**
 * `trainfer infer <url> <model> --input <file.json>`: send one inference request (a KServe v2 request
 * body in the file, or `--text "…"`: raw strings for a model served with its tokenizer) to a server and print the outputs, as a summary or as the response JSON. Flag values
 * (URL, version) are checked before anything is read or sent. `--version` is this command's model
 * version: the root program must not take it for its own `--version` (main.ts enables positional options).
 */
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { FileFormatError, TrainferError } from '../util/errors.js';
import { InferenceClient } from '../serve/client.js';
import { GrpcInferenceClient } from '../serve/grpc/client.js';
import { type Parameters, datatypeOf, decodeInferRequest, tensorToJson } from '../serve/protocol.js';
import { Tensor } from '../onnx/tensor.js';
import type { CliCommand } from './command.js';

interface InferFlags {
  input?: string;
  text?: string[];
  version?: string;
  binary?: boolean;
  json?: boolean;
  grpc?: boolean;
}

/** `trainfer infer` */
export const inferCommand: CliCommand = {
  name: 'infer',
  define(program: Command) {
    program
      .command('infer')
      .description('send an inference request to a KServe v2 / Triton server and print the outputs')
      .argument('<url>', 'server base URL, e.g. http://127.0.0.1:8000 (with --grpc: host:port of the gRPC service, e.g. 127.0.0.1:8001)')
      .argument('<model>', 'model name')
      .option('--input <file.json>', 'request body: {"inputs": [{"name", "shape", "datatype", "data"}], "outputs"?: [{"name"}], "id"?}')
      .option('--text <string>', 'raw text for a model served with its tokenizer (input `text`, BYTES); repeat for a batch', (v: string, prev: string[] = []) => [...prev, v])
      .option('--version <v>', 'model version, a positive integer (default: the highest)', parseVersion)
      .option('--binary', 'send tensors with the binary tensor data extension and ask for binary outputs')
      .option('--json', 'print the response as one JSON object (outputs with flat data)')
      .option('--grpc', 'use the KServe v2 gRPC protocol (inference.GRPCInferenceService, tensors in raw_input_contents) instead of REST')
      .action(async (url: string, model: string, flags: InferFlags) => {
        await runInfer(url, model, flags);
      });
  },
};

async function runInfer(url: string, model: string, f: InferFlags): Promise<void> {
  const address = f.grpc ? parseGrpcAddress(url) : parseUrl(url);
  if (f.grpc && f.binary) throw new TrainferError('--binary is for REST; gRPC always sends tensors as raw bytes');
  if ((f.input === undefined) === (f.text === undefined)) throw new TrainferError('infer: give either --input <file.json> (a request body) or --text "…" (raw text)');
  const { request, tensors } = f.text ? { request: {} as { outputs?: { name: string }[]; id?: string }, tensors: new Map([['text', new Tensor('string', [f.text.length], f.text)]]) } : readRequest(f.input!);
  const call = { inputs: Object.fromEntries(tensors), outputs: request.outputs?.map((o) => o.name), version: f.version, id: request.id };
  let res: { modelName: string; modelVersion?: string; id?: string; outputs: Record<string, Tensor>; parameters?: Parameters };
  let parameters: Parameters | undefined;
  if (f.grpc) {
    const client = new GrpcInferenceClient(address);
    try {
      res = await client.infer(model, call);
      parameters = res.parameters;
    } finally {
      client.close();
    }
  } else {
    const r = await new InferenceClient(address).infer(model, { ...call, binary: f.binary });
    res = r;
    parameters = r.raw.parameters;
  }
  if (f.json) {
    const outputs = Object.entries(res.outputs).map(([name, t]) => ({ name, datatype: datatypeOf(t.dtype), shape: [...t.dims], data: tensorToJson(t) }));
    process.stdout.write(`${JSON.stringify({ model_name: res.modelName, model_version: res.modelVersion, id: res.id, ...(parameters ? { parameters } : {}), outputs })}\n`);
    return;
  }
  process.stdout.write(`model ${res.modelName}${res.modelVersion ? ` version ${res.modelVersion}` : ''}${res.id ? ` id ${res.id}` : ''}\n`);
  const cut = parameters?.truncated;
  if (typeof cut === 'number' && cut > 0) process.stdout.write(`  ${cut} text${cut === 1 ? '' : 's'} truncated to ${String(parameters!.max_tokens)} tokens (rows ${String(parameters!.truncated_rows)})\n`);
  for (const [name, t] of Object.entries(res.outputs)) {
    process.stdout.write(`  ${name}  ${datatypeOf(t.dtype)} [${t.dims.join(', ')}]  ${preview(t)}${argmax(t)}\n`);
  }
}

function readRequest(file: string): ReturnType<typeof decodeInferRequest> {
  let body: unknown;
  try {
    body = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new FileFormatError(file, (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : `not valid JSON: ${(err as Error).message}`);
  }
  try {
    return decodeInferRequest(body, new Uint8Array(0));
  } catch (err) {
    throw new FileFormatError(file, (err as Error).message);
  }
}

function parseUrl(v: string): string {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new TrainferError(`<url> must be an http:// or https:// URL, got '${v}'`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TrainferError(`<url> must be an http:// or https:// URL, got '${v}'`);
  return v;
}

/** `host:port` (a `grpc://` or `http://` prefix is accepted and dropped). */
function parseGrpcAddress(v: string): string {
  const bare = v.replace(/^(grpc|http):\/\//, '').replace(/\/+$/, '');
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$/.exec(bare);
  if (!m || Number(m[2]) > 65535) throw new TrainferError(`with --grpc, <url> must be host:port of a gRPC server, e.g. 127.0.0.1:8001, got '${v}'`);
  return bare;
}

function parseVersion(v: string): string {
  if (!/^[1-9][0-9]{0,17}$/.test(v)) throw new Error(`--version must be a positive integer (a model version), got '${v}'`);
  return v;
}

function preview(t: Tensor): string {
  const values = tensorToJson(t);
  const shown = values.slice(0, 8).map((v) => (typeof v === 'number' ? Number(v.toPrecision(5)) : v));
  return `${JSON.stringify(shown).slice(0, 120)}${values.length > 8 ? ` … (${values.length} values)` : ''}`;
}

/** For a [batch, classes] float output: the top class of each row. */
function argmax(t: Tensor): string {
  if (t.dims.length !== 2 || !t.dtype.startsWith('float') || Array.isArray(t.data)) return '';
  const [rows, cols] = t.dims as [number, number];
  const v = t.toNumbers();
  const top: number[] = [];
  for (let r = 0; r < Math.min(rows, 16); r++) {
    let best = 0;
    for (let c = 1; c < cols; c++) if (v[r * cols + c]! > v[r * cols + best]!) best = c;
    top.push(best);
  }
  return `  argmax ${JSON.stringify(top)}${rows > 16 ? ' …' : ''}`;
}
