/**
 * CSV classification data: a header row, numeric feature columns and one label column (class indices
 * 0..K-1, or class names mapped to indices in sorted order). Errors name the file, line and column.
 */
import { readFileSync } from 'node:fs';
import { FileFormatError } from '../util/errors.js';
import type { Dataset } from './dataset.js';

/** Options for `readCsv`. */
export interface CsvOptions {
  /** Label column name or 0-based index (default: a column named label/class/target/y, else the last). */
  labelColumn?: string | number;
  /** Class names to index labels by (e.g. the training file's, or a model's); default: sorted unique names. */
  classNames?: readonly string[];
}

const LABEL_NAMES = ['label', 'labels', 'class', 'target', 'y'];

/** Reads a CSV file into a tabular dataset. */
export function readCsv(path: string, options: CsvOptions = {}): Dataset {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new FileFormatError(path, code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory, not a CSV file' : (err as Error).message, { cause: err });
  }
  return parseCsv(text, path, options);
}

/** Parses CSV text (see `readCsv`). `file` names the source in errors. */
export function parseCsv(text: string, file: string, options: CsvOptions = {}): Dataset {
  const lines = text.split(/\r?\n/);
  let li = 0;
  while (li < lines.length && lines[li]!.trim() === '') li++;
  if (li >= lines.length) throw new FileFormatError(file, 'empty file: expected a header row and data rows');
  const header = splitRow(lines[li]!).map((h) => h.trim());
  const headerLine = li + 1;
  const labelIdx = resolveLabelColumn(header, options.labelColumn, file);
  if (header.length < 2) throw new FileFormatError(file, `header (line ${headerLine}) has ${header.length} column; need at least one feature and a label`);
  const featureIdx = header.map((_, i) => i).filter((i) => i !== labelIdx);
  const features: number[] = [];
  const rawLabels: string[] = [];
  for (li++; li < lines.length; li++) {
    const line = lines[li]!;
    if (line.trim() === '') continue;
    const cells = splitRow(line);
    if (cells.length !== header.length) {
      throw new FileFormatError(file, `line ${li + 1} has ${cells.length} fields but the header has ${header.length}`);
    }
    for (const i of featureIdx) {
      const c = cells[i]!.trim();
      const v = Number(c);
      if (c === '' || !Number.isFinite(v)) {
        throw new FileFormatError(file, `line ${li + 1}, column '${header[i]}': '${c}' is not a number (features must be numeric)`);
      }
      features.push(v);
    }
    rawLabels.push(cells[labelIdx]!.trim());
  }
  const count = rawLabels.length;
  if (count === 0) throw new FileFormatError(file, 'no data rows after the header');
  const { y, numClasses, classNames } = encodeLabels(rawLabels, file, header[labelIdx]!, options.classNames);
  return {
    source: file,
    kind: 'tabular',
    sampleShape: [featureIdx.length],
    x: Float32Array.from(features),
    scale: 1,
    y,
    count,
    numClasses,
    classNames,
    featureNames: featureIdx.map((i) => header[i]!),
  };
}

function resolveLabelColumn(header: string[], col: string | number | undefined, file: string): number {
  if (typeof col === 'number') {
    if (!Number.isInteger(col) || col < 0 || col >= header.length) throw new FileFormatError(file, `label column index ${col} is out of range (the header has ${header.length} columns)`);
    return col;
  }
  if (col !== undefined) {
    const i = header.indexOf(col);
    if (i < 0) throw new FileFormatError(file, `no column named '${col}' (columns: ${header.join(', ')})`);
    return i;
  }
  const i = header.findIndex((h) => LABEL_NAMES.includes(h.toLowerCase()));
  return i >= 0 ? i : header.length - 1;
}

/** Integer labels are class indices; anything else is a class name, indexed in sorted order. */
function encodeLabels(raw: string[], file: string, column: string, known?: readonly string[]): { y: Int32Array; numClasses: number; classNames?: string[] } {
  const y = new Int32Array(raw.length);
  if (known) {
    const index = new Map(known.map((n, i) => [n, i]));
    raw.forEach((s, i) => {
      const k = index.get(s);
      if (k === undefined) throw new FileFormatError(file, `data row ${i + 1}, column '${column}': label '${s}' is not one of the classes ${known.join(', ')}`);
      y[i] = k;
    });
    return { y, numClasses: known.length, classNames: [...known] };
  }
  if (raw.every((s) => /^\d+$/.test(s))) {
    let max = 0;
    raw.forEach((s, i) => {
      y[i] = Number(s);
      max = Math.max(max, y[i]!);
    });
    return { y, numClasses: max + 1 };
  }
  const empty = raw.findIndex((s) => s === '');
  if (empty >= 0) throw new FileFormatError(file, `data row ${empty + 1}, column '${column}': empty label`);
  const names = [...new Set(raw)].sort();
  const index = new Map(names.map((n, i) => [n, i]));
  raw.forEach((s, i) => (y[i] = index.get(s)!));
  return { y, numClasses: names.length, classNames: names };
}

/** Splits one CSV row on commas, honouring double-quoted fields with `""` escapes. */
function splitRow(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}
