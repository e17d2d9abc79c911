/**
 * The charting library bundled into every report: the UMD builds of vega, vega-lite and vega-embed
 * (npm dependencies), read from node_modules and inlined so the HTML opens from disk with no network.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TrainferError } from '../../util/errors.js';

/** The three scripts, in load order, with their package versions. */
export interface VegaAssets {
  scripts: { name: string; version: string; code: string }[];
}

let cached: VegaAssets | undefined;

/** Loads the minified builds (once per process). */
export function vegaAssets(): VegaAssets {
  if (cached) return cached;
  const scripts = (['vega', 'vega-lite', 'vega-embed'] as const).map((name) => {
    const entry = fileURLToPath(import.meta.resolve(name));
    // The entry is build/<something>.js; the UMD bundle sits beside it.
    const dir = dirname(entry);
    let pkgDir = dir;
    while (!existsSync(join(pkgDir, 'package.json')) && dirname(pkgDir) !== pkgDir) pkgDir = dirname(pkgDir);
    const file = [join(dir, `${name}.min.js`), join(pkgDir, 'build', `${name}.min.js`)].find((f) => existsSync(f));
    if (!file) throw new TrainferError(`${name}: its bundled build (${name}.min.js) was not found under ${pkgDir}; reinstall the package`);
    const version = (JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { version: string }).version;
    return { name, version, code: readFileSync(file, 'utf8') };
  });
  cached = { scripts };
  return cached;
}
