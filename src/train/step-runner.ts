/**
 * Runs a built training step over and over with no per-step allocation: inputs, targets and random
 * inputs (any dtype) are ort.Tensors over buffers filled in place; every carried tensor (parameter,
 * buffer, optimizer state) is double-buffered — fed from one buffer while onnxruntime writes the next
 * value into the other via `fetches` — and the two swap after each step. Extra outputs (a head's values,
 * for training metrics) are written into buffers allocated once.
 */
import * as ort from 'onnxruntime-node';
import type { StateSlot, TrainStep } from '../autodiff/types.js';
import { Tensor } from '../onnx/tensor.js';
import { type Device, Session } from '../runtime/session.js';
import { TrainferError, oneLine } from '../util/errors.js';
import type { DType, TypedArray } from '../onnx/dtype.js';

/** A data input of the step and the buffer that feeds it. */
export interface StepFeed {
  name: string;
  dtype: DType;
  data: TypedArray;
  /** Per-step shape including the batch axis. */
  dims: number[];
}

/** An extra float output of the step fetched into a buffer (e.g. a head's values). */
export interface StepFetch {
  /** Output name in the step graph (`TrainStep.extraOutputs`). */
  name: string;
  /** Shape including the batch axis. */
  dims: number[];
}

/** Options for `StepRunner.create`. */
export interface StepRunnerOptions {
  step: TrainStep;
  /** Buffers for every entry of `step.dataInputs`, by name. */
  feeds: readonly StepFeed[];
  /** Values replacing slot initial values (e.g. from a checkpoint), by slot input name. */
  restore?: ReadonlyMap<string, Tensor>;
  /** onnxruntime intra-op threads (default: all cores). */
  threads?: number;
  /** Where onnxruntime runs: `cpu` (default) or `cuda` (needs a CUDA build of onnxruntime-node). */
  device?: Device;
  /** Intra-op threads spin while idle (see `SessionOptions.spinning`; default: onnxruntime's). */
  spinning?: boolean;
  /** Extra outputs to fetch every step (float32). */
  fetch?: readonly StepFetch[];
}

interface Carried {
  slot: StateSlot;
  cur: ort.Tensor;
  next: ort.Tensor;
}

function ortOf(t: Tensor): ort.Tensor {
  return new ort.Tensor(t.dtype as 'float32', t.data as Float32Array, [...t.dims]);
}

/** Executes one training step per `run` call. */
export class StepRunner {
  /** The last step's extra outputs, in the order of `fetch`. */
  readonly fetched: Float32Array[];
  private readonly feeds: Record<string, ort.Tensor> = {};
  private readonly fetches: Record<string, ort.Tensor> = {};
  private readonly lr: Float32Array;
  private readonly stepNo: Float32Array;
  private readonly apply = new Float32Array([1]);
  private readonly lossOut: Float32Array;
  private readonly normOut: Float32Array;

  private constructor(
    readonly session: Session,
    readonly step: TrainStep,
    private readonly carried: Carried[],
    feeds: readonly StepFeed[],
    fetch: readonly StepFetch[],
  ) {
    for (const f of feeds) this.feeds[f.name] = new ort.Tensor(f.dtype as 'float32', f.data as Float32Array, f.dims);
    this.lr = new Float32Array(1);
    this.feeds[step.lrInput] = new ort.Tensor('float32', this.lr, []);
    this.stepNo = new Float32Array(1);
    if (step.stepInput) this.feeds[step.stepInput] = new ort.Tensor('float32', this.stepNo, []);
    if (step.applyInput) this.feeds[step.applyInput] = new ort.Tensor('float32', this.apply, []);
    this.lossOut = new Float32Array(1);
    this.fetches[step.lossOutput] = new ort.Tensor('float32', this.lossOut, []);
    this.normOut = new Float32Array(1);
    this.fetches[step.gradNormOutput] = new ort.Tensor('float32', this.normOut, []);
    this.fetched = fetch.map((f) => {
      const buf = new Float32Array(f.dims.reduce((a, b) => a * b, 1));
      this.fetches[f.name] = new ort.Tensor('float32', buf, f.dims);
      return buf;
    });
    this.wire();
  }

  /** Builds the session and allocates every buffer once. */
  static async create(o: StepRunnerOptions): Promise<StepRunner> {
    const { step } = o;
    const names = new Set(o.feeds.map((f) => f.name));
    for (const d of step.dataInputs) if (!names.has(d)) throw new Error(`step input '${d}' has no feed`);
    const carried: Carried[] = step.state.map((slot) => {
      const src = o.restore?.get(slot.input) ?? slot.initial;
      if (src.dims.join(',') !== slot.initial.dims.join(',')) {
        throw new TrainferError(`checkpoint tensor '${slot.input}' has shape [${src.dims.join(', ')}], the model needs [${slot.initial.dims.join(', ')}]`);
      }
      return { slot, cur: ortOf(src.clone()), next: ortOf(slot.initial.clone()) };
    });
    const session = await Session.create({ model: step.model }, { intraOpThreads: o.threads, device: o.device, graphOptimizationLevel: 'all', spinning: o.spinning });
    return new StepRunner(session, step, carried, o.feeds, o.fetch ?? []);
  }

  private wire(): void {
    for (const c of this.carried) {
      this.feeds[c.slot.input] = c.cur;
      this.fetches[c.slot.output] = c.next;
    }
  }

  /**
   * Runs one step with learning rate `lr` (optimizer step number `n` is 1-based). With gradient
   * accumulation, `apply` false only accumulates this micro-batch's gradient. Returns loss and gradient norm.
   */
  async run(lr: number, n: number, apply = true): Promise<{ loss: number; gradNorm: number }> {
    this.lr[0] = lr;
    this.stepNo[0] = n;
    this.apply[0] = apply ? 1 : 0;
    try {
      await this.session.ort.run(this.feeds, this.fetches);
    } catch (err) {
      throw new TrainferError(`training step ${n} failed in onnxruntime: ${oneLine(err)}`, { cause: err });
    }
    for (const c of this.carried) {
      const t = c.cur;
      c.cur = c.next;
      c.next = t;
    }
    this.wire();
    return { loss: this.lossOut[0]!, gradNorm: this.normOut[0]! };
  }

  /** Copies of every carried tensor, by slot input name (for checkpoints). */
  snapshot(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const c of this.carried) out.set(c.slot.input, new Tensor(c.slot.initial.dtype, c.slot.initial.dims, (c.cur.data as TypedArray).slice()));
    return out;
  }

  /** Current parameter and buffer values (copies), by forward-graph initializer name. */
  weights(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const c of this.carried) {
      if (c.slot.kind === 'optimizer') continue;
      out.set(forwardName(c.slot), new Tensor(c.slot.initial.dtype, c.slot.initial.dims, (c.cur.data as TypedArray).slice()));
    }
    return out;
  }

  /** Releases the session. */
  async release(): Promise<void> {
    await this.session.release();
  }
}

/** The forward-graph initializer a param/buffer slot stands for (`param` when given, else the input name). */
export function forwardName(slot: StateSlot): string {
  return slot.param ?? slot.input;
}
