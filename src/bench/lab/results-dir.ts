/**
 * Where a lab run writes: each run builds in `<out>/.incomplete-<id>/` and is renamed to `<out>/<id>/`
 * only when complete, then `<out>/latest` is re-pointed atomically (a new symlink renamed over the old).
 * A re-run never touches an earlier run's directory; a failed run leaves only its `.incomplete-` one.
 * Trained models are cached by the hash of their recipe in `<out>/cache/` for `--reuse`.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../../util/atomic-write.js';
import { TrainferError } from '../../util/errors.js';

/** A run directory being built. */
export interface RunDir {
  id: string;
  /** Where files go while the run is in progress. */
  work: string;
  /** Where the run ends up. */
  final: string;
  out: string;
}

/** Creates `<out>/.incomplete-<id>/` for a new run (id: UTC time + a random suffix, sortable). */
export function createRunDir(out: string): RunDir {
  mkdirSync(out, { recursive: true });
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const id = `${stamp}-${Math.random().toString(36).slice(2, 6)}`;
  const work = join(out, `.incomplete-${id}`);
  const final = join(out, id);
  if (existsSync(final) || existsSync(work)) throw new TrainferError(`${final}: already exists`);
  mkdirSync(work);
  return { id, work, final, out };
}

/** Moves a finished run into place and points `<out>/latest` at it. */
export function finishRunDir(d: RunDir): string {
  renameSync(d.work, d.final);
  const link = join(d.out, 'latest');
  const tmp = join(d.out, `.latest-${d.id}`);
  try {
    rmSync(tmp, { force: true });
    symlinkSync(d.id, tmp);
    renameSync(tmp, link);
  } catch {
    // Filesystems without symlinks: the run is complete anyway; `latest` is a convenience.
    rmSync(tmp, { force: true });
    writeFileAtomic(`${link}.txt`, `${d.id}\n`);
  }
  return d.final;
}

/** Hex SHA-256 of a recipe (keys sorted, so equal recipes hash equally). */
export function recipeHash(recipe: Record<string, unknown>): string {
  const canon = JSON.stringify(Object.keys(recipe).sort().map((k) => [k, recipe[k] ?? null]));
  return createHash('sha256').update(canon).digest('hex').slice(0, 24);
}

/** The model cache of `--reuse`. */
export class ModelCache {
  constructor(private readonly dir: string) {}

  private paths(hash: string) {
    const d = join(this.dir, hash);
    return { dir: d, model: join(d, 'model.onnx'), record: join(d, 'training.json'), tokenizer: join(d, 'tokenizer.json') };
  }

  /** The cached model and its training record, copied to `modelOut`, or undefined. */
  restore<T>(hash: string, modelOut: string): T | undefined {
    const p = this.paths(hash);
    if (!existsSync(p.model) || !existsSync(p.record)) return undefined;
    let record: T;
    try {
      record = JSON.parse(readFileSync(p.record, 'utf8')) as T;
    } catch {
      return undefined;
    }
    copyFileSync(p.model, modelOut);
    // A text model's tokenizer travels with it (train writes it beside the model).
    if (existsSync(p.tokenizer)) copyFileSync(p.tokenizer, join(dirname(modelOut), 'tokenizer.json'));
    return record;
  }

  /** Stores a trained model (atomic per file: a half-written cache entry is never used). */
  store(hash: string, model: string, record: unknown): void {
    const p = this.paths(hash);
    mkdirSync(p.dir, { recursive: true });
    writeFileAtomic(p.model, readFileSync(model));
    const tokenizer = join(dirname(model), 'tokenizer.json');
    if (existsSync(tokenizer)) writeFileAtomic(p.tokenizer, readFileSync(tokenizer));
    writeFileAtomic(p.record, `${JSON.stringify(record, null, 2)}\n`);
  }
}
