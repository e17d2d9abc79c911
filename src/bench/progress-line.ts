/**
 * The live progress line of a benchmark: a cli-progress bar on a terminal (scenario, phase, time
 * against the minimum duration, queries, rate), one line per phase otherwise (CI logs, pipes).
 * Writes to stderr so `--json` output on stdout stays clean.
 */
import { Presets, SingleBar } from 'cli-progress';
import type { RunProgress } from './loadgen/run-scenario.js';

/** Receives load-generator progress and free-form lines. */
export interface BenchProgress {
  update(p: RunProgress, label: string): void;
  /** Prints a line above the bar. */
  log(line: string): void;
  stop(): void;
}

/** `auto`: a bar on a TTY, lines otherwise. */
export type BenchProgressMode = 'auto' | 'bar' | 'lines' | 'none';

const n = (x: number) => Math.round(x).toLocaleString('en-US');

/** Creates a progress reporter on `stream` (default stderr). */
export function createBenchProgress(options: { mode?: BenchProgressMode; stream?: NodeJS.WriteStream } = {}): BenchProgress {
  const stream = options.stream ?? process.stderr;
  const mode = options.mode === undefined || options.mode === 'auto' ? (stream.isTTY ? 'bar' : 'lines') : options.mode;
  if (mode === 'none') return { update() {}, log() {}, stop() {} };
  if (mode === 'lines') {
    let last = '';
    return {
      update(p, label) {
        const key = `${label}/${p.phase}`;
        if (key === last) return;
        last = key;
        stream.write(`  ${label}: ${p.phase}${p.phase === 'run' ? ` (≥ ${(p.plannedMs / 1000).toFixed(1)} s)` : ''}\n`);
      },
      log: (line) => stream.write(`${line}\n`),
      stop() {},
    };
  }
  let bar: SingleBar | undefined;
  return {
    update(p, label) {
      if (!bar) {
        bar = new SingleBar({ stream, format: '  {label} {phase} {bar} {elapsed}/{planned} s | {queries} queries | {rate}/s', hideCursor: true, clearOnComplete: true, fps: 10, barsize: 24 }, Presets.shades_classic);
        bar.start(100, 0, { label, phase: p.phase, elapsed: '0.0', planned: '0', queries: '0', rate: '-' });
      }
      const frac = p.plannedMs > 0 ? Math.min(1, p.elapsedMs / p.plannedMs) : 1;
      const unit = p.scenario === 'offline' && p.phase === 'run' ? p.completedSamples : p.queries;
      bar.update(Math.round(frac * 100), { label, phase: p.phase, elapsed: (p.elapsedMs / 1000).toFixed(1), planned: (p.plannedMs / 1000).toFixed(1), queries: n(p.scenario === 'offline' && p.phase === 'run' ? p.completedSamples : p.queries), rate: p.elapsedMs > 0 ? n((unit / p.elapsedMs) * 1000) : '-' });
    },
    log(line) {
      if (bar) bar.stop();
      bar = undefined;
      stream.write(`${line}\n`);
    },
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}
