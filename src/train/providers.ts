/**
 * Feed providers that need onnxruntime: `teacherOutputs` runs a teacher model on every batch and writes
 * its output (e.g. logits) into a feed — the target of a distillation loss. The teacher reads the batch's
 * rows from the table's columns through its own feed plan (raw values, whatever standardisation the
 * student's batcher applies), so any teacher with any inputs plugs in.
 */
import * as ort from 'onnxruntime-node';
import { Batcher, type PackedTable, packTable } from '../data/batcher.js';
import { type FeedPlan, type FeedProvider, type FeedSpec, type ProviderBatch, planFeeds } from '../data/feed-plan.js';
import type { Table } from '../data/table.js';
import type { Model } from '../onnx/ir.js';
import { readModel } from '../onnx/model-io.js';
import { type Device, Session } from '../runtime/session.js';
import { TrainferError, oneLine } from '../util/errors.js';

/** Options for `teacherOutputs`. */
export interface TeacherOptions {
  /** The teacher: an `.onnx` path or a model. */
  model: string | Model;
  /**
   * Columns for each teacher input. Default: a single-input teacher reads the columns of the student's
   * first input; otherwise each input reads the column of its own name.
   */
  inputs?: Readonly<Record<string, readonly string[]>>;
  /** The teacher output to copy (default: its first output). */
  output?: string;
  threads?: number;
  device?: Device;
}

/**
 * A provider filling its feed with a teacher model's output for each batch (distillation targets).
 * Call `close()` (fit and evaluate callers do) to release the teacher's session.
 *
 * @example
 * const teacher = await teacherOutputs({ model: 'big.onnx' });
 * await fit({ model: student, train, losses: [{ loss: { type: 'custom', targets: [{ name: 'teacher', dtype: 'float32', shape: [10] }],
 *   fn: (g, { outputs, targets }) => klDivergence(g, { studentLogits: outputs.logits!, teacherLogits: targets.teacher!, temperature: 2 }) } }],
 *   feeds: { teacher: { provider: teacher } } });
 */
export async function teacherOutputs(o: TeacherOptions): Promise<FeedProvider> {
  const model = typeof o.model === 'string' ? readModel(o.model) : o.model;
  const name = typeof o.model === 'string' ? o.model : 'teacher model';
  const session = await Session.create({ model }, { intraOpThreads: o.threads, device: o.device });
  const output = o.output ?? session.outputNames[0]!;
  if (!session.outputNames.includes(output)) throw new TrainferError(`${name}: no output named '${output}' (outputs: ${session.outputNames.join(', ')})`);
  const specs: FeedSpec[] = model.graph.feedInputs().map((v) => ({ name: v.name, dtype: v.type?.dtype ?? 'float32', shape: (v.type?.shape ?? []).slice(1).map((d, k) => (typeof d === 'number' && d >= 0 ? d : (d ?? `${v.name}_dim${k + 1}`))), role: 'input' }));
  let plan: FeedPlan | undefined;
  let batcher: Batcher | undefined;
  let packed: { table: Table; packed: PackedTable } | undefined;
  return {
    async fill(b: ProviderBatch): Promise<void> {
      const table = b.rows.table;
      if (!plan || !batcher || batcher.batchSize < b.size) {
        let inputs = o.inputs;
        if (!inputs && specs.length === 1) {
          const first = [...b.feeds.values()].find((f) => f.role === 'input' && f.columns);
          if (first) inputs = { [specs[0]!.name]: first.columns! };
        }
        const bindings = Object.fromEntries(Object.entries(inputs ?? {}).map(([k, v]) => [k, { columns: v }]));
        plan = planFeeds({ specs, table, bindings, flag: 'teacher inputs' });
        batcher = new Batcher({ plan, batchSize: Math.max(b.size, batcher?.batchSize ?? 0) });
        packed = undefined;
      }
      if (packed?.table !== table) packed = { table, packed: packTable(table, plan) };
      batcher.fill(packed.packed, b.rows.order, b.rows.start, b.size);
      const feeds: Record<string, ort.Tensor> = {};
      for (const buf of batcher.buffers) {
        const per = buf.shape.reduce((x, y) => x * y, 1);
        feeds[buf.name] = new ort.Tensor(buf.dtype as 'float32', (buf.data as Float32Array).subarray(0, b.size * per), [b.size, ...buf.shape]);
      }
      let out: ort.InferenceSession.OnnxValueMapType;
      try {
        out = await session.ort.run(feeds, [output]);
      } catch (err) {
        throw new TrainferError(`${name}: teacher run failed in onnxruntime: ${oneLine(err)}`, { cause: err });
      }
      const t = out[output]!;
      const need = b.size * b.shape.reduce((x, y) => x * y, 1);
      if (t.data.length !== need) throw new TrainferError(`${name}: teacher output '${output}' has shape [${t.dims.join(', ')}] but the feed takes [${b.size}, ${b.shape.join(', ')}]`);
      (b.out as Float32Array).set(t.data as Float32Array);
    },
    close: () => session.release(),
  };
}
