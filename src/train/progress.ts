/**
 * Training progress for people and machines: a cli-progress bar on a TTY, one plain line per epoch
 * otherwise (CI logs, pipes), and an optional JSONL metrics log with one object per epoch and a step
 * record every `logEvery` steps.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Presets, SingleBar } from 'cli-progress';

/** Metrics of one finished epoch. */
export interface EpochMetrics {
  /** 1-based epoch number. */
  epoch: number;
  /** Steps done so far (all epochs). */
  step: number;
  /** Mean training loss over the epoch's steps. */
  loss: number;
  /** Training accuracy over the epoch's batches, as the weights changed (classifiers; NaN otherwise). */
  accuracy: number;
  /** The first head's training metric over the epoch (`accuracy`, or `rmse` for regression). */
  train?: Record<string, number>;
  valLoss?: number;
  valAccuracy?: number;
  /** Validation metrics of the first head (`loss`, `accuracy`, `f1`, `auc`, `rmse`, `r2`, …). */
  val?: Record<string, number>;
  /** Learning rate at the epoch's last step. */
  lr: number;
  /** Wall-clock seconds since the run started (all sessions of a resumed run), validation included. */
  seconds: number;
  /** Training samples per second in this epoch's step loop. */
  samplesPerSecond: number;
}

/** How to show progress: `auto` = bar on a TTY, lines otherwise. */
export type ProgressMode = 'auto' | 'bar' | 'lines' | 'none';

/** Receives progress events from `fit`. */
export interface ProgressReporter {
  /** `metric` names what `step`'s `metric` argument is (`acc`, `rmse`). */
  epochStart(epoch: number, epochs: number, steps: number, startAt: number, metric?: string): void;
  step(batch: number, loss: number, metric: number, samplesPerSecond: number): void;
  epochEnd(m: EpochMetrics, epochs: number): void;
  message(line: string): void;
  stop(): void;
}

const pct = (x: number | undefined): string => (x === undefined ? '-' : `${(x * 100).toFixed(2)}%`);
const rate = (x: number): string => (x >= 1000 ? `${(x / 1000).toFixed(1)}k` : x.toFixed(0));

const num = (x: number): string => (Number.isNaN(x) ? 'nan' : Math.abs(x) >= 1000 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toPrecision(4) : x.toFixed(4));

/** Which metrics a line shows, by task: share-type metrics as percentages. */
const SHOWN = ['accuracy', 'f1', 'auc', 'pr_auc', 'micro_f1', 'rmse', 'mae', 'r2'] as const;
const LABEL: Record<string, string> = { accuracy: 'acc' };
const PERCENT = new Set(['accuracy', 'f1', 'micro_f1']);

function fmtMetrics(prefix: string, m: Record<string, number>, monitor?: string): string {
  const keys = SHOWN.filter((k) => m[k] !== undefined && (k !== 'mae' || m.rmse === undefined));
  if (monitor && !keys.includes(monitor as (typeof SHOWN)[number]) && m[monitor] !== undefined && monitor !== 'loss') keys.push(monitor as (typeof SHOWN)[number]);
  return keys.map((k) => `  ${prefix}${LABEL[k] ?? k} ${PERCENT.has(k) ? pct(m[k]) : num(m[k]!)}`).join('');
}

/** One line describing an epoch (also what the plain reporter prints). `monitor` (without `val_`) is always shown. */
export function formatEpoch(m: EpochMetrics, epochs: number, monitor?: string): string {
  const train = fmtMetrics('', m.train ?? (Number.isNaN(m.accuracy) ? {} : { accuracy: m.accuracy }));
  const val = m.valLoss === undefined ? '' : `  val_loss ${num(m.valLoss)}${fmtMetrics('val_', m.val ?? { accuracy: m.valAccuracy ?? NaN }, monitor)}`;
  return `epoch ${m.epoch}/${epochs}  loss ${num(m.loss)}${train}${val}  lr ${m.lr.toPrecision(3)}  ${rate(m.samplesPerSecond)} samples/s  ${m.seconds.toFixed(1)}s`;
}

/** Creates a reporter writing to `stream` (default stderr, so `--json` stdout stays clean). */
export function createReporter(options: { mode?: ProgressMode; stream?: NodeJS.WriteStream; monitor?: string } = {}): ProgressReporter {
  const stream = options.stream ?? process.stderr;
  const mode = options.mode === 'auto' || options.mode === undefined ? (stream.isTTY ? 'bar' : 'lines') : options.mode;
  if (mode === 'none') return { epochStart() {}, step() {}, epochEnd() {}, message() {}, stop() {} };
  if (mode === 'lines') {
    return {
      epochStart() {},
      step() {},
      epochEnd: (m, epochs) => stream.write(`${formatEpoch(m, epochs, options.monitor)}\n`),
      message: (line) => stream.write(`${line}\n`),
      stop() {},
    };
  }
  let bar: SingleBar | undefined;
  let last = 0;
  let metricName = 'acc';
  return {
    epochStart(epoch, epochs, steps, startAt, metric = 'acc') {
      metricName = metric;
      bar = new SingleBar(
        { stream, format: `epoch ${epoch}/${epochs} {bar} {value}/{total} | loss {loss} | ${metric} {metric} | {rate} samples/s | eta {eta_formatted}`, hideCursor: true, clearOnComplete: true, fps: 10 },
        Presets.shades_classic,
      );
      bar.start(steps, startAt, { loss: '-', metric: '-', rate: '-' });
      last = 0;
    },
    step(batch, loss, metric, samplesPerSecond) {
      const now = performance.now();
      if (now - last < 100) return; // updates are cheap, but not free: ≤ 10 per second
      last = now;
      bar?.update(batch, { loss: num(loss), metric: metricName === 'acc' ? pct(metric) : num(metric), rate: rate(samplesPerSecond) });
    },
    epochEnd(m, epochs) {
      bar?.stop();
      bar = undefined;
      stream.write(`${formatEpoch(m, epochs, options.monitor)}\n`);
    },
    message(line) {
      stream.write(`${line}\n`);
    },
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}

/** Appends JSON lines to a metrics file (created with its directory on first write). */
export class MetricsLog {
  private ready = false;
  constructor(readonly path: string) {}
  /** Appends one record. */
  write(record: Record<string, unknown>): void {
    if (!this.ready) {
      mkdirSync(dirname(this.path), { recursive: true });
      this.ready = true;
    }
    appendFileSync(this.path, `${JSON.stringify({ time: new Date().toISOString(), ...record })}\n`);
  }
}
