/**
 * Reads a model repository's layout (`<repo>/<model>/<version>/model.onnx`, optional
 * `<repo>/<model>/config.json`) without loading any model: what `trainfer deploy` needs to size pods
 * and name things. Errors are one line naming the repository and the expected layout.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type ModelConfig, readModelConfig } from '../serve/config.js';
import { isPlainName } from '../serve/repository.js';
import { TrainferError } from '../util/errors.js';

/** One version directory that holds a `model.onnx`. */
export interface ScannedVersion {
  version: string;
  /** Bytes of everything in the version directory (model.onnx plus external data files). */
  bytes: number;
}

/** One model of the repository with its serving config (defaults filled in). */
export interface ScannedModel {
  name: string;
  config: ModelConfig;
  versions: ScannedVersion[];
}

/** What `scanRepository` found. */
export interface RepositoryScan {
  root: string;
  models: ScannedModel[];
  /** Bytes of every version directory together. */
  totalBytes: number;
}

const LAYOUT = 'expected <repo>/<model>/<version>/model.onnx, e.g. models/mnist/1/model.onnx';

/**
 * Scans `root` the way `trainfer serve` lays a repository out. Throws a `TrainferError` when it is not a
 * directory or holds no model, and a `FileFormatError` for a bad `config.json`.
 *
 * @example
 * const scan = scanRepository({ root: 'models' });
 * scan.models.map((m) => m.name); // ['mnist']
 */
export function scanRepository(o: { root: string }): RepositoryScan {
  const { root } = o;
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new TrainferError(`${root}: model repository is not a directory`);
  const models: ScannedModel[] = [];
  for (const d of readdirSync(root, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (!d.isDirectory() || !isPlainName(d.name)) continue;
    const dir = join(root, d.name);
    const versions = readdirSync(dir, { withFileTypes: true })
      .filter((v) => v.isDirectory() && /^[1-9][0-9]{0,17}$/.test(v.name) && existsSync(join(dir, v.name, 'model.onnx')))
      .map((v) => ({ version: v.name, bytes: directoryBytes(join(dir, v.name)) }))
      .sort((a, b) => Number(a.version) - Number(b.version));
    // `trainfer serve` refuses to start on a model directory without a version: so does deploy
    if (versions.length === 0) throw new TrainferError(`${dir}: no version directory holds a model.onnx; expected ${join(dir, '1', 'model.onnx')} (versions are positive integers)`);
    models.push({ name: d.name, config: readModelConfig(join(dir, 'config.json')), versions });
  }
  if (models.length === 0) {
    const stray = existsSync(join(root, 'model.onnx')) ? ' (model.onnx sits at the top level: move it to <model>/1/model.onnx)' : '';
    throw new TrainferError(`${root}: no models in the repository${stray}; ${LAYOUT}`);
  }
  const totalBytes = models.reduce((s, m) => s + m.versions.reduce((t, v) => t + v.bytes, 0), 0);
  return { root, models, totalBytes };
}

function directoryBytes(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += directoryBytes(p);
    else if (e.isFile()) total += statSync(p).size;
  }
  return total;
}
